-- A breach keeps the US states' notification hours in force when it was recorded: see the PostgreSQL migration of
-- the same number.
ALTER TABLE incidents ADD COLUMN us_state_hours TEXT;
