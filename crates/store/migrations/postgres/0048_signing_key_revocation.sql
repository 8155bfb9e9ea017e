-- A signing key revoked at once (`comanda keys rotate --revoke-previous`): a leaked key must stop verifying now, not
-- when its tokens would have expired (the 15 minutes and the leeway a plain rotation keeps it for). NULL: never
-- revoked; the key retires as before.
ALTER TABLE signing_keys ADD COLUMN revoked_at timestamptz;
