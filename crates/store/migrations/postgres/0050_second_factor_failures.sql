-- Wrong second-factor codes in a row from devices the account has not used before (NIST SP 800-63B §5.2.2: at
-- most 100 consecutive failed attempts on one account). The hourly rate limit alone let someone holding the
-- password guess about 2,400 codes a day; at 100 in a row the authenticator app's codes stop being taken from a new
-- device until a sign-in succeeds (a recovery code, the usual device) or the password changes.
ALTER TABLE staff ADD COLUMN second_factor_failures integer NOT NULL DEFAULT 0;
