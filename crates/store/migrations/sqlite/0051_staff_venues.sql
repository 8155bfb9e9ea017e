-- The venues a member works at: see the PostgreSQL migration of the same number.
ALTER TABLE staff ADD COLUMN venues TEXT;
ALTER TABLE invitations ADD COLUMN venues TEXT;
