-- A venue's kitchen events are numbered by the venue itself, in the order they commit. With one shared sequence,
-- two orders placed at the same moment could commit in the opposite order of their numbers, and a display that
-- had read the higher number would ask only for events after it and never see the lower one. The venue's head
-- row is locked by the transaction that takes the next number until it commits, so at one venue numbers and
-- commits keep the same order; different venues never wait for each other.
CREATE TABLE venue_event_heads (
    partner_id uuid NOT NULL,
    venue_id   uuid NOT NULL,
    last_seq   bigint NOT NULL,
    PRIMARY KEY (partner_id, venue_id),
    FOREIGN KEY (partner_id, venue_id) REFERENCES venues (partner_id, id)
);
ALTER TABLE venue_event_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE venue_event_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON venue_event_heads USING (partner_id = comanda_current_tenant())
    WITH CHECK (partner_id = comanda_current_tenant());

-- Numbers already given out stay valid (a display resuming with Last-Event-ID keeps its place): each venue
-- continues after its highest.
INSERT INTO venue_event_heads (partner_id, venue_id, last_seq)
    SELECT partner_id, venue_id, max(seq) FROM order_events GROUP BY partner_id, venue_id;

ALTER TABLE order_events DROP CONSTRAINT order_events_pkey;
ALTER TABLE order_events ALTER COLUMN seq DROP DEFAULT;
DROP SEQUENCE order_events_seq_seq;
ALTER TABLE order_events ADD PRIMARY KEY (partner_id, venue_id, seq);
DROP INDEX order_events_by_venue;
