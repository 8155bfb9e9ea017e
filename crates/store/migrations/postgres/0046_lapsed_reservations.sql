-- An offer to the waitlist or a deposit hold that ends without becoming a booking (declined, expired, withdrawn,
-- never paid) is `lapsed`, not `cancelled`: it was never a booking, so the reservation figures leave it out instead
-- of counting it as a cancellation (docs/analytics.md, "Reservations"). Earlier ones are found by what they left:
-- a waitlist entry that ended on its reservation without booking it, or a deposit that was never paid.
-- The owner lifts the tenant wall for this transaction only, as 0033 does.
ALTER TABLE reservations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE waitlist_entries NO FORCE ROW LEVEL SECURITY;
ALTER TABLE reservation_deposits NO FORCE ROW LEVEL SECURITY;

UPDATE reservations SET status = 'lapsed'
 WHERE status = 'cancelled'
   AND (id IN (SELECT reservation_id FROM waitlist_entries
                WHERE reservation_id IS NOT NULL AND status IN ('expired', 'left'))
        OR id IN (SELECT reservation_id FROM reservation_deposits WHERE status IN ('awaiting', 'released')));

ALTER TABLE reservations FORCE ROW LEVEL SECURITY;
ALTER TABLE waitlist_entries FORCE ROW LEVEL SECURITY;
ALTER TABLE reservation_deposits FORCE ROW LEVEL SECURITY;
