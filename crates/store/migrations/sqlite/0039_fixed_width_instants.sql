-- Every stored instant becomes fixed-width UTC text: `2026-12-02T05:00:00.300000000Z`, nine fraction digits.
--
-- SQLite keeps instants as text, and sqlx wrote them in RFC 3339 with a fraction's trailing zeros dropped
-- (`05:00:00Z`, `05:00:00.3Z`, `05:00:00.55Z`). Text order was then not time order: `.3Z` sorted before `00Z`, so a
-- record in the first second of a business day fell outside the day's range read, and `.5Z` after `.55Z`, so a keyset
-- page could skip a row. From this version the store binds every instant at the fixed width (`records::InstantText`,
-- the kit's `ts`), and this migration rewrites what was written before, so old and new rows compare as instants.
--
-- Each instant is kept: its date and time of day as written, then its fraction's digits padded with zeros. sqlx wrote
-- every instant in UTC (`Z`); a value in another form would be left as it is (none was found in any database tried).
-- The audit tables' append-only triggers refuse any update; they are dropped and created again, unchanged, inside
-- this migration's transaction, and the chain's hashes stay valid because they are computed over the instant, not its
-- text. The columns are every `timestamptz` of the PostgreSQL schema at this version.

DROP TRIGGER audit_events_no_update;
DROP TRIGGER audit_checkpoints_no_update;
DROP TRIGGER audit_pending_no_update;

UPDATE alerts SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE alerts SET routed_at = substr(routed_at, 1, 19) || '.' || substr(rtrim(substr(routed_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE routed_at LIKE '____-__-__T__:__:__%Z' AND length(routed_at) <> 30;
UPDATE alerts SET routing_abandoned_at = substr(routing_abandoned_at, 1, 19) || '.' || substr(rtrim(substr(routing_abandoned_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE routing_abandoned_at LIKE '____-__-__T__:__:__%Z' AND length(routing_abandoned_at) <> 30;
UPDATE approvals SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE approvals SET decided_at = substr(decided_at, 1, 19) || '.' || substr(rtrim(substr(decided_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE decided_at LIKE '____-__-__T__:__:__%Z' AND length(decided_at) <> 30;
UPDATE audit_checkpoints SET at = substr(at, 1, 19) || '.' || substr(rtrim(substr(at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE at LIKE '____-__-__T__:__:__%Z' AND length(at) <> 30;
UPDATE audit_events SET at = substr(at, 1, 19) || '.' || substr(rtrim(substr(at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE at LIKE '____-__-__T__:__:__%Z' AND length(at) <> 30;
UPDATE audit_heads SET pruned_at = substr(pruned_at, 1, 19) || '.' || substr(rtrim(substr(pruned_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE pruned_at LIKE '____-__-__T__:__:__%Z' AND length(pruned_at) <> 30;
UPDATE audit_pending SET at = substr(at, 1, 19) || '.' || substr(rtrim(substr(at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE at LIKE '____-__-__T__:__:__%Z' AND length(at) <> 30;
UPDATE backup_runs SET finished_at = substr(finished_at, 1, 19) || '.' || substr(rtrim(substr(finished_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE finished_at LIKE '____-__-__T__:__:__%Z' AND length(finished_at) <> 30;
UPDATE backup_runs SET started_at = substr(started_at, 1, 19) || '.' || substr(rtrim(substr(started_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE started_at LIKE '____-__-__T__:__:__%Z' AND length(started_at) <> 30;
UPDATE booking_policies SET updated_at = substr(updated_at, 1, 19) || '.' || substr(rtrim(substr(updated_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 30;
UPDATE cash_payments SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE cash_payments SET voided_at = substr(voided_at, 1, 19) || '.' || substr(rtrim(substr(voided_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE voided_at LIKE '____-__-__T__:__:__%Z' AND length(voided_at) <> 30;
UPDATE connected_accounts SET updated_at = substr(updated_at, 1, 19) || '.' || substr(rtrim(substr(updated_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 30;
UPDATE credentials SET updated_at = substr(updated_at, 1, 19) || '.' || substr(rtrim(substr(updated_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 30;
UPDATE disclosure_reports SET acknowledged_at = substr(acknowledged_at, 1, 19) || '.' || substr(rtrim(substr(acknowledged_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE acknowledged_at LIKE '____-__-__T__:__:__%Z' AND length(acknowledged_at) <> 30;
UPDATE disclosure_reports SET fixed_at = substr(fixed_at, 1, 19) || '.' || substr(rtrim(substr(fixed_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE fixed_at LIKE '____-__-__T__:__:__%Z' AND length(fixed_at) <> 30;
UPDATE disclosure_reports SET received_at = substr(received_at, 1, 19) || '.' || substr(rtrim(substr(received_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE received_at LIKE '____-__-__T__:__:__%Z' AND length(received_at) <> 30;
UPDATE disclosure_reports SET triaged_at = substr(triaged_at, 1, 19) || '.' || substr(rtrim(substr(triaged_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE triaged_at LIKE '____-__-__T__:__:__%Z' AND length(triaged_at) <> 30;
UPDATE disputes SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE disputes SET evidence_due = substr(evidence_due, 1, 19) || '.' || substr(rtrim(substr(evidence_due, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE evidence_due LIKE '____-__-__T__:__:__%Z' AND length(evidence_due) <> 30;
UPDATE former_staff SET removed_at = substr(removed_at, 1, 19) || '.' || substr(rtrim(substr(removed_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE removed_at LIKE '____-__-__T__:__:__%Z' AND length(removed_at) <> 30;
UPDATE guest_contacts SET consented_at = substr(consented_at, 1, 19) || '.' || substr(rtrim(substr(consented_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE consented_at LIKE '____-__-__T__:__:__%Z' AND length(consented_at) <> 30;
UPDATE guest_contacts SET erased_at = substr(erased_at, 1, 19) || '.' || substr(rtrim(substr(erased_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE erased_at LIKE '____-__-__T__:__:__%Z' AND length(erased_at) <> 30;
UPDATE idempotency_records SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE incident_timeline SET at = substr(at, 1, 19) || '.' || substr(rtrim(substr(at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE at LIKE '____-__-__T__:__:__%Z' AND length(at) <> 30;
UPDATE incidents SET aware_at = substr(aware_at, 1, 19) || '.' || substr(rtrim(substr(aware_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE aware_at LIKE '____-__-__T__:__:__%Z' AND length(aware_at) <> 30;
UPDATE incidents SET closed_at = substr(closed_at, 1, 19) || '.' || substr(rtrim(substr(closed_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE closed_at LIKE '____-__-__T__:__:__%Z' AND length(closed_at) <> 30;
UPDATE incidents SET opened_at = substr(opened_at, 1, 19) || '.' || substr(rtrim(substr(opened_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE opened_at LIKE '____-__-__T__:__:__%Z' AND length(opened_at) <> 30;
UPDATE invitations SET accepted_at = substr(accepted_at, 1, 19) || '.' || substr(rtrim(substr(accepted_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE accepted_at LIKE '____-__-__T__:__:__%Z' AND length(accepted_at) <> 30;
UPDATE invitations SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE invitations SET expires_at = substr(expires_at, 1, 19) || '.' || substr(rtrim(substr(expires_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE expires_at LIKE '____-__-__T__:__:__%Z' AND length(expires_at) <> 30;
UPDATE item_sales_quarters SET quarter = substr(quarter, 1, 19) || '.' || substr(rtrim(substr(quarter, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE quarter LIKE '____-__-__T__:__:__%Z' AND length(quarter) <> 30;
UPDATE known_devices SET first_seen = substr(first_seen, 1, 19) || '.' || substr(rtrim(substr(first_seen, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE first_seen LIKE '____-__-__T__:__:__%Z' AND length(first_seen) <> 30;
UPDATE order_events SET at = substr(at, 1, 19) || '.' || substr(rtrim(substr(at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE at LIKE '____-__-__T__:__:__%Z' AND length(at) <> 30;
UPDATE orders SET placed_at = substr(placed_at, 1, 19) || '.' || substr(rtrim(substr(placed_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE placed_at LIKE '____-__-__T__:__:__%Z' AND length(placed_at) <> 30;
UPDATE orders SET updated_at = substr(updated_at, 1, 19) || '.' || substr(rtrim(substr(updated_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 30;
UPDATE outbox SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE outbox SET sent_at = substr(sent_at, 1, 19) || '.' || substr(rtrim(substr(sent_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE sent_at LIKE '____-__-__T__:__:__%Z' AND length(sent_at) <> 30;
UPDATE partner_debts SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE partner_directory SET offboarded_at = substr(offboarded_at, 1, 19) || '.' || substr(rtrim(substr(offboarded_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE offboarded_at LIKE '____-__-__T__:__:__%Z' AND length(offboarded_at) <> 30;
UPDATE partners SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE payments SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE payments SET expires_at = substr(expires_at, 1, 19) || '.' || substr(rtrim(substr(expires_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE expires_at LIKE '____-__-__T__:__:__%Z' AND length(expires_at) <> 30;
UPDATE payments SET succeeded_at = substr(succeeded_at, 1, 19) || '.' || substr(rtrim(substr(succeeded_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE succeeded_at LIKE '____-__-__T__:__:__%Z' AND length(succeeded_at) <> 30;
UPDATE payouts SET arrival_date = substr(arrival_date, 1, 19) || '.' || substr(rtrim(substr(arrival_date, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE arrival_date LIKE '____-__-__T__:__:__%Z' AND length(arrival_date) <> 30;
UPDATE payouts SET updated_at = substr(updated_at, 1, 19) || '.' || substr(rtrim(substr(updated_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 30;
UPDATE person_keys SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE recovery_codes SET used_at = substr(used_at, 1, 19) || '.' || substr(rtrim(substr(used_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE used_at LIKE '____-__-__T__:__:__%Z' AND length(used_at) <> 30;
UPDATE refresh_tokens SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE refresh_tokens SET family_expires_at = substr(family_expires_at, 1, 19) || '.' || substr(rtrim(substr(family_expires_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE family_expires_at LIKE '____-__-__T__:__:__%Z' AND length(family_expires_at) <> 30;
UPDATE refresh_tokens SET revoked_at = substr(revoked_at, 1, 19) || '.' || substr(rtrim(substr(revoked_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE revoked_at LIKE '____-__-__T__:__:__%Z' AND length(revoked_at) <> 30;
UPDATE refresh_tokens SET used_at = substr(used_at, 1, 19) || '.' || substr(rtrim(substr(used_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE used_at LIKE '____-__-__T__:__:__%Z' AND length(used_at) <> 30;
UPDATE refunds SET completed_at = substr(completed_at, 1, 19) || '.' || substr(rtrim(substr(completed_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE completed_at LIKE '____-__-__T__:__:__%Z' AND length(completed_at) <> 30;
UPDATE refunds SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE reservation_deposits SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE reservation_deposits SET hold_expires_at = substr(hold_expires_at, 1, 19) || '.' || substr(rtrim(substr(hold_expires_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE hold_expires_at LIKE '____-__-__T__:__:__%Z' AND length(hold_expires_at) <> 30;
UPDATE reservation_deposits SET refundable_until = substr(refundable_until, 1, 19) || '.' || substr(rtrim(substr(refundable_until, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE refundable_until LIKE '____-__-__T__:__:__%Z' AND length(refundable_until) <> 30;
UPDATE reservation_deposits SET updated_at = substr(updated_at, 1, 19) || '.' || substr(rtrim(substr(updated_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 30;
UPDATE reservations SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE reservations SET start_at = substr(start_at, 1, 19) || '.' || substr(rtrim(substr(start_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE start_at LIKE '____-__-__T__:__:__%Z' AND length(start_at) <> 30;
UPDATE reservations SET until_at = substr(until_at, 1, 19) || '.' || substr(rtrim(substr(until_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE until_at LIKE '____-__-__T__:__:__%Z' AND length(until_at) <> 30;
UPDATE reservations SET updated_at = substr(updated_at, 1, 19) || '.' || substr(rtrim(substr(updated_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 30;
UPDATE sales_quarters SET quarter = substr(quarter, 1, 19) || '.' || substr(rtrim(substr(quarter, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE quarter LIKE '____-__-__T__:__:__%Z' AND length(quarter) <> 30;
UPDATE security_events SET at = substr(at, 1, 19) || '.' || substr(rtrim(substr(at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE at LIKE '____-__-__T__:__:__%Z' AND length(at) <> 30;
UPDATE server_sales_quarters SET quarter = substr(quarter, 1, 19) || '.' || substr(rtrim(substr(quarter, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE quarter LIKE '____-__-__T__:__:__%Z' AND length(quarter) <> 30;
UPDATE sign_in_places SET signed_in_at = substr(signed_in_at, 1, 19) || '.' || substr(rtrim(substr(signed_in_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE signed_in_at LIKE '____-__-__T__:__:__%Z' AND length(signed_in_at) <> 30;
UPDATE signing_keys SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE staff SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE staff SET sessions_revoked_at = substr(sessions_revoked_at, 1, 19) || '.' || substr(rtrim(substr(sessions_revoked_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE sessions_revoked_at LIKE '____-__-__T__:__:__%Z' AND length(sessions_revoked_at) <> 30;
UPDATE staff SET totp_confirmed_at = substr(totp_confirmed_at, 1, 19) || '.' || substr(rtrim(substr(totp_confirmed_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE totp_confirmed_at LIKE '____-__-__T__:__:__%Z' AND length(totp_confirmed_at) <> 30;
UPDATE stripe_events SET received_at = substr(received_at, 1, 19) || '.' || substr(rtrim(substr(received_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE received_at LIKE '____-__-__T__:__:__%Z' AND length(received_at) <> 30;
UPDATE table_combinations SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE table_sessions SET accepted_at = substr(accepted_at, 1, 19) || '.' || substr(rtrim(substr(accepted_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE accepted_at LIKE '____-__-__T__:__:__%Z' AND length(accepted_at) <> 30;
UPDATE table_sessions SET closed_at = substr(closed_at, 1, 19) || '.' || substr(rtrim(substr(closed_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE closed_at LIKE '____-__-__T__:__:__%Z' AND length(closed_at) <> 30;
UPDATE table_sessions SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE tenant_keys SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE tip_ledger SET at = substr(at, 1, 19) || '.' || substr(rtrim(substr(at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE at LIKE '____-__-__T__:__:__%Z' AND length(at) <> 30;
UPDATE transfers SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE transfers SET sent_at = substr(sent_at, 1, 19) || '.' || substr(rtrim(substr(sent_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE sent_at LIKE '____-__-__T__:__:__%Z' AND length(sent_at) <> 30;
UPDATE venue_tables SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE venues SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE waitlist_entries SET created_at = substr(created_at, 1, 19) || '.' || substr(rtrim(substr(created_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 30;
UPDATE waitlist_entries SET earliest_at = substr(earliest_at, 1, 19) || '.' || substr(rtrim(substr(earliest_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE earliest_at LIKE '____-__-__T__:__:__%Z' AND length(earliest_at) <> 30;
UPDATE waitlist_entries SET latest_at = substr(latest_at, 1, 19) || '.' || substr(rtrim(substr(latest_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE latest_at LIKE '____-__-__T__:__:__%Z' AND length(latest_at) <> 30;
UPDATE waitlist_entries SET offer_expires_at = substr(offer_expires_at, 1, 19) || '.' || substr(rtrim(substr(offer_expires_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE offer_expires_at LIKE '____-__-__T__:__:__%Z' AND length(offer_expires_at) <> 30;
UPDATE waitlist_entries SET updated_at = substr(updated_at, 1, 19) || '.' || substr(rtrim(substr(updated_at, 21), 'Z') || '000000000', 1, 9) || 'Z'
 WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 30;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (NEW.source IS NULL AND NEW.source_salt IS NULL
          AND NEW.partner_id IS OLD.partner_id AND NEW.id IS OLD.id AND NEW.at IS OLD.at AND NEW.actor IS OLD.actor
          AND NEW.action IS OLD.action AND NEW.target IS OLD.target AND NEW.request_id IS OLD.request_id
          AND NEW.detail IS OLD.detail AND NEW.shard IS OLD.shard AND NEW.seq IS OLD.seq
          AND NEW.source_commitment IS OLD.source_commitment AND NEW.prev_hash IS OLD.prev_hash
          AND NEW.hash IS OLD.hash)
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_pending_no_update BEFORE UPDATE ON audit_pending
BEGIN SELECT RAISE(ABORT, 'audit_pending is append-only'); END;
