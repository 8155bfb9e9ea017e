-- The platform's list of partners, outside row-level security like credentials and table_directory: the jobs that
-- walk every partner (audit checkpoints, retention, verification) read it. A partner enters at registration and
-- stays after offboarding, whose time it records: its audit chain is kept, checkpointed and pruned like any other.
-- (Listing partners by their sign-in records lost a partner once its last member was erased or it was offboarded.)
CREATE TABLE partner_directory (
    partner_id    uuid PRIMARY KEY,
    offboarded_at timestamptz
);
-- The schema owner reads every partner once, with row-level security lifted inside this migration's transaction.
ALTER TABLE partners NO FORCE ROW LEVEL SECURITY;
INSERT INTO partner_directory (partner_id) SELECT id FROM partners;
ALTER TABLE partners FORCE ROW LEVEL SECURITY;
