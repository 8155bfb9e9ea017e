-- Guest contact data (a receipt by email, later reservations) and the consent it was given under (PRIV-2, Law 1581):
-- the notice version and the time. Email and name are sealed under the guest's own data key (person_keys).
CREATE TABLE guest_contacts (
    partner_id     TEXT NOT NULL REFERENCES partners (id),
    id             TEXT NOT NULL,
    venue_id       TEXT NOT NULL,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    notice_version TEXT NOT NULL,
    consented_at   TEXT NOT NULL,
    erased_at      TEXT,
    PRIMARY KEY (partner_id, id)
) STRICT;
