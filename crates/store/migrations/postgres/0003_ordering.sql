-- Ordering: tables with rotatable signed tokens, bilingual menus, orders with their events (the kitchen display's
-- resumable feed). table_directory is a platform table: a guest's token names a table, the directory says whose it
-- is, and the token's signature (checked by the application) proves the guest may act there.

CREATE TABLE venue_tables (
    partner_id    uuid NOT NULL,
    venue_id      uuid NOT NULL,
    id            uuid NOT NULL,
    label         text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 40),
    seats         integer NOT NULL CHECK (seats BETWEEN 1 AND 100),
    token_version integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
);

CREATE TABLE table_directory (
    table_id      uuid PRIMARY KEY,
    partner_id    uuid NOT NULL,
    venue_id      uuid NOT NULL,
    token_version integer NOT NULL
);

CREATE TABLE menu_categories (
    partner_id uuid NOT NULL,
    venue_id   uuid NOT NULL,
    id         uuid NOT NULL,
    name_es    text NOT NULL,
    name_en    text NOT NULL,
    position   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
);

CREATE TABLE menu_items (
    partner_id     uuid NOT NULL,
    venue_id       uuid NOT NULL,
    id             uuid NOT NULL,
    category_id    uuid NOT NULL,
    name_es        text NOT NULL,
    name_en        text NOT NULL,
    description_es text NOT NULL,
    description_en text NOT NULL,
    price          bigint NOT NULL CHECK (price >= 0),
    currency       char(3) NOT NULL,
    taxed          boolean NOT NULL,
    available      boolean NOT NULL,
    modifiers      text NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, category_id) REFERENCES menu_categories (partner_id, id)
);

CREATE TABLE orders (
    partner_id      uuid NOT NULL,
    venue_id        uuid NOT NULL,
    id              uuid NOT NULL,
    table_id        uuid NOT NULL,
    status          text NOT NULL,
    lines           text NOT NULL,
    subtotal        bigint NOT NULL,
    currency        char(3) NOT NULL,
    idempotency_key text,
    request_hash    bytea,
    cancel_reason   text,
    placed_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (partner_id, id),
    FOREIGN KEY (partner_id, table_id) REFERENCES venue_tables (partner_id, id),
    UNIQUE (partner_id, table_id, idempotency_key)
);
CREATE INDEX orders_by_venue ON orders (partner_id, venue_id, placed_at);

CREATE TABLE order_events (
    seq        bigserial PRIMARY KEY,
    partner_id uuid NOT NULL,
    venue_id   uuid NOT NULL,
    order_id   uuid NOT NULL,
    status     text NOT NULL,
    actor      text NOT NULL,
    at         timestamptz NOT NULL,
    FOREIGN KEY (partner_id, order_id) REFERENCES orders (partner_id, id)
);
CREATE INDEX order_events_by_venue ON order_events (partner_id, venue_id, seq);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['venue_tables', 'menu_categories', 'menu_items', 'orders', 'order_events'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (partner_id = comanda_current_tenant())
                        WITH CHECK (partner_id = comanda_current_tenant())', t);
    END LOOP;
END $$;
