-- Offers and deposit holds that ended without becoming a booking are `lapsed`: see the PostgreSQL migration of the
-- same number.
UPDATE reservations SET status = 'lapsed'
 WHERE status = 'cancelled'
   AND (id IN (SELECT reservation_id FROM waitlist_entries
                WHERE reservation_id IS NOT NULL AND status IN ('expired', 'left'))
        OR id IN (SELECT reservation_id FROM reservation_deposits WHERE status IN ('awaiting', 'released')));
