-- The venues a member works at: NULL for every venue of the partner (owners, payout authority, and anyone not
-- limited), else the venue ids separated by spaces. An invitation carries the venues its member will have.
ALTER TABLE staff ADD COLUMN venues text;
ALTER TABLE invitations ADD COLUMN venues text;
