-- Revocation that cannot tie (issue 14). Every credential of a member — sign-in and enrolment tokens, access
-- tokens, refresh families, open kitchen streams — carries the member's credential generation at its issue; every
-- revocation (compromised, logout-all, password change, standing change, second-factor re-enrolment or removal)
-- moves the generation on, and a credential of an older generation is dead. A counter replaces comparing issue
-- and revocation times in whole seconds, where a token issued in the revocation's second survived.
ALTER TABLE staff ADD COLUMN credential_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN credential_generation bigint NOT NULL DEFAULT 0;
-- Re-enrolment of the second factor: the new secret waits here until a code from it is confirmed; until then the
-- current secret and recovery codes stay in force.
ALTER TABLE staff ADD COLUMN totp_pending_sealed bytea;
