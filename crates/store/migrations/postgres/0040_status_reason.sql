-- The reason a host gave for a booking's last change ("she called: ill"): words about the guest, sealed under the
-- guest's own key like the booking's note, so an erasure shreds them. They were written in clear into the audit
-- detail, which is append-only and kept 12 months; the audit now says only that a reason was kept.
ALTER TABLE reservations ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
