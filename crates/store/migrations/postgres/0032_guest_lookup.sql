-- A data-subject request names the person by email or phone (API.md, PRIV-1), but a guest's contact is sealed under
-- the guest's own key: keyed lookup digests (HMAC under the platform's index key, like the login directory's email
-- key) find a guest's records without opening every contact. An erasure clears them with the key. Rows written
-- before this have none: a lookup opens those and compares.
ALTER TABLE guest_contacts ADD COLUMN email_digest bytea;
ALTER TABLE guest_contacts ADD COLUMN phone_digest bytea;
CREATE INDEX guest_contacts_email_digest ON guest_contacts (partner_id, email_digest);
CREATE INDEX guest_contacts_phone_digest ON guest_contacts (partner_id, phone_digest);
