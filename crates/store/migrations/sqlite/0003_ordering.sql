-- Ordering; see the PostgreSQL migration for the reasoning.

CREATE TABLE venue_tables (
    partner_id    TEXT NOT NULL,
    venue_id      TEXT NOT NULL,
    id            TEXT NOT NULL,
    label         TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 40),
    seats         INTEGER NOT NULL CHECK (seats BETWEEN 1 AND 100),
    token_version INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
) STRICT;

CREATE TABLE table_directory (
    table_id      TEXT PRIMARY KEY,
    partner_id    TEXT NOT NULL,
    venue_id      TEXT NOT NULL,
    token_version INTEGER NOT NULL
) STRICT;

CREATE TABLE menu_categories (
    partner_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    id         TEXT NOT NULL,
    name_es    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
) STRICT;

CREATE TABLE menu_items (
    partner_id     TEXT NOT NULL,
    venue_id       TEXT NOT NULL,
    id             TEXT NOT NULL,
    category_id    TEXT NOT NULL,
    name_es        TEXT NOT NULL,
    name_en        TEXT NOT NULL,
    description_es TEXT NOT NULL,
    description_en TEXT NOT NULL,
    price          INTEGER NOT NULL CHECK (price >= 0),
    currency       TEXT NOT NULL,
    taxed          INTEGER NOT NULL,
    available      INTEGER NOT NULL,
    modifiers      TEXT NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, category_id) REFERENCES menu_categories (partner_id, id)
) STRICT;

CREATE TABLE orders (
    partner_id      TEXT NOT NULL,
    venue_id        TEXT NOT NULL,
    id              TEXT NOT NULL,
    table_id        TEXT NOT NULL,
    status          TEXT NOT NULL,
    lines           TEXT NOT NULL,
    subtotal        INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash    BLOB,
    cancel_reason   TEXT,
    placed_at       TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, table_id) REFERENCES venue_tables (partner_id, id),
    UNIQUE (partner_id, table_id, idempotency_key)
) STRICT;
CREATE INDEX orders_by_venue ON orders (partner_id, venue_id, placed_at);

CREATE TABLE order_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    order_id   TEXT NOT NULL,
    status     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         TEXT NOT NULL,
    FOREIGN KEY (partner_id, order_id) REFERENCES orders (partner_id, id)
);
CREATE INDEX order_events_by_venue ON order_events (partner_id, venue_id, seq);
