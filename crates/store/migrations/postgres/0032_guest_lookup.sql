-- A data-subject request names the person by email or phone (API.md, PRIV-1), but a guest's contact is sealed under
-- the guest's own key: keyed lookup digests (HMAC under the platform's index key, bound to the partner, so rows of
-- two partners or a guest and a member's login cannot be linked without the key) find a guest's records without
-- opening every contact. An erasure clears them with the key. Rows written before this have none: the first lookup
-- of the partner opens those (found through the partial index), compares, and gives them their digests.
ALTER TABLE guest_contacts ADD COLUMN email_digest bytea;
ALTER TABLE guest_contacts ADD COLUMN phone_digest bytea;
CREATE INDEX guest_contacts_email_digest ON guest_contacts (partner_id, email_digest);
CREATE INDEX guest_contacts_phone_digest ON guest_contacts (partner_id, phone_digest);
CREATE INDEX guest_contacts_undigested ON guest_contacts (partner_id)
    WHERE email_digest IS NULL AND phone_digest IS NULL AND erased_at IS NULL;
