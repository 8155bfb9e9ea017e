-- Wrong second-factor codes in a row from new devices: see the PostgreSQL migration of the same number.
ALTER TABLE staff ADD COLUMN second_factor_failures INTEGER NOT NULL DEFAULT 0;
