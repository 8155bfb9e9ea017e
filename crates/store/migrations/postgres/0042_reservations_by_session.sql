-- A guest scanning a table joined for a seated party finds the party's bill from the venue's live sessions to the
-- booking that opened each: every guest request asks, so the step is an index, not a scan of the partner's bookings.
CREATE INDEX reservations_by_session ON reservations (partner_id, session_id) WHERE session_id IS NOT NULL;
