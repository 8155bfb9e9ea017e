-- Where each member has signed in from: see the PostgreSQL migration of the same number.
CREATE TABLE sign_in_places (
    partner_id   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    country      TEXT NOT NULL,
    coordinates  TEXT,
    signed_in_at TEXT NOT NULL,
    PRIMARY KEY (partner_id, user_id, country),
    FOREIGN KEY (partner_id, user_id) REFERENCES staff (partner_id, id) ON DELETE CASCADE
) STRICT;
