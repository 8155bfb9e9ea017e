-- The tables a waiting party turned down ("it wants another table, it keeps waiting"): JSON array of table ids, the
-- same text as a reservation's `tables`. The offers skip them for this party, so the table it declined goes to the
-- next one waiting and it keeps its place for the next table that comes free.
ALTER TABLE waitlist_entries ADD COLUMN declined_tables text NOT NULL DEFAULT '[]';
