-- Partners (tenants) and their venues. Every partner-owned table carries partner_id first in its primary key and
-- in its foreign keys, so the schema can be distributed by partner (Citus) without a rewrite.

-- The tenant of the current transaction, set by the application with set_config('comanda.tenant', …, true).
-- Unset or empty means no tenant: every policy below then matches nothing.
CREATE FUNCTION comanda_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('comanda.tenant', true), '')::uuid $$;

CREATE TABLE partners (
    id            uuid PRIMARY KEY,
    business_name text NOT NULL CHECK (char_length(business_name) BETWEEN 1 AND 200),
    country       char(2) NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE venues (
    partner_id  uuid NOT NULL REFERENCES partners (id),
    id          uuid NOT NULL,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    timezone    text NOT NULL,
    address     text NOT NULL,
    currency    char(3) NOT NULL,
    tax_kind    text NOT NULL CHECK (tax_kind IN ('inc', 'iva')),
    tax_rate_bp integer NOT NULL CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id)
);

-- Row-level security, forced so that it binds the table owner as well: the second wall behind the application's
-- own tenant filter.
ALTER TABLE partners ENABLE ROW LEVEL SECURITY;
ALTER TABLE partners FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON partners
    USING (id = comanda_current_tenant())
    WITH CHECK (id = comanda_current_tenant());

ALTER TABLE venues ENABLE ROW LEVEL SECURITY;
ALTER TABLE venues FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON venues
    USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());
