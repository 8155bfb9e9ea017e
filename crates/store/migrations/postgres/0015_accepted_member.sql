-- The member who accepted a table (to whom its tips are credited), as a column rather than parsed out of the
-- `role:member` actor text. Existing sessions keep what their actor text names.
ALTER TABLE table_sessions ADD COLUMN accepted_member uuid;
UPDATE table_sessions
   SET accepted_member = split_part(accepted_by, ':', 2)::uuid
 WHERE accepted_by ~ '^[a-z_]+:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
