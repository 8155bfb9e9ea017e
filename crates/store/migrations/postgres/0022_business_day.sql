-- Each venue chooses where its business day starts (docs/analytics.md, "Business day"): the local hour, 0 to 11,
-- before which a sale counts on the day before. Existing venues keep the 05:00 every report used until now.
ALTER TABLE venues ADD COLUMN day_start_hour integer NOT NULL DEFAULT 5 CHECK (day_start_hour BETWEEN 0 AND 11);
