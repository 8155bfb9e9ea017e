-- Who put the party on the waitlist: the public widget (`online`: its offers follow the online rules and are
-- mailed) or the host (`staff`: a party waiting at the venue, offered by the host's rules and answered by the host,
-- who calls the guest; it may leave no email).
ALTER TABLE waitlist_entries ADD COLUMN channel text NOT NULL DEFAULT 'online'
    CHECK (channel IN ('online', 'staff'));
