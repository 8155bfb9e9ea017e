-- Keyed lookup digests of a guest's email and phone: see the PostgreSQL migration of the same number.
ALTER TABLE guest_contacts ADD COLUMN email_digest BLOB;
ALTER TABLE guest_contacts ADD COLUMN phone_digest BLOB;
CREATE INDEX guest_contacts_email_digest ON guest_contacts (partner_id, email_digest);
CREATE INDEX guest_contacts_phone_digest ON guest_contacts (partner_id, phone_digest);
CREATE INDEX guest_contacts_undigested ON guest_contacts (partner_id)
    WHERE email_digest IS NULL AND phone_digest IS NULL AND erased_at IS NULL;
