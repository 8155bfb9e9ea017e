-- The US states' notification hours in force when a breach is recorded (`STATE=hours`, comma-separated), kept with
-- it: its deadlines were computed from the configuration each time they were read, so a configuration changed
-- since (or a command run without it) dropped a state's deadline and the breach closed with it never notified.
-- NULL for a breach recorded before this column: its deadlines read the configuration as before.
ALTER TABLE incidents ADD COLUMN us_state_hours text;
