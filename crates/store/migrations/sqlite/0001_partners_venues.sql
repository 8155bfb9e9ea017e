-- Partners (tenants) and their venues. Every partner-owned table carries partner_id first in its primary key.
CREATE TABLE partners (
    id            TEXT PRIMARY KEY,
    business_name TEXT NOT NULL CHECK (length(business_name) BETWEEN 1 AND 200),
    country       TEXT NOT NULL CHECK (length(country) = 2),
    created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE venues (
    partner_id  TEXT NOT NULL REFERENCES partners (id),
    id          TEXT NOT NULL,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone    TEXT NOT NULL,
    address     TEXT NOT NULL,
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    tax_kind    TEXT NOT NULL CHECK (tax_kind IN ('inc', 'iva')),
    tax_rate_bp INTEGER NOT NULL CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (partner_id, id)
) STRICT;
