-- A removed member keeps, besides the name payroll records need, the email and the day they joined, sealed as they
-- were: so the person can still ask for their data (GDPR Art. 15, Law 1581 art. 8) and an erasure finds every mail
-- file addressed to them. Members removed before this version keep an empty email (nothing to find by).
ALTER TABLE former_staff ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE former_staff ADD COLUMN joined_at timestamptz;
