-- The member who accepted a table (to whom its tips are credited), as a column rather than parsed out of the
-- `role:member` actor text. Existing sessions keep what their actor text names.
ALTER TABLE table_sessions ADD COLUMN accepted_member TEXT;
UPDATE table_sessions
   SET accepted_member = substr(accepted_by, instr(accepted_by, ':') + 1)
 WHERE accepted_by GLOB '*:????????-????-????-????-????????????';
