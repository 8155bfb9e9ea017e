//! `comanda`: one binary for every role. `comanda serve` with no configuration runs the embedded default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `println!` for a command's output: a reader that went away (`comanda backup list | head -1`) is not a panic and
/// its backtrace. The command goes on to its end (a `keys rotate-kek` half done would be worse than output unread)
/// and its exit status says how the work went.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub(crate) use out;

mod controls;

use clap::{Parser, Subcommand};
use comanda_server::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "comanda",
    version,
    about = "Order and pay at the table: the comanda server and its tools"
)]
struct Cli {
    /// A TOML configuration file (also COMANDA_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the embedded default keeps its database, key file and certificate (also COMANDA_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTPS (migrating the database first).
    Serve {
        /// The HTTPS listener address, e.g. 0.0.0.0:443 (also COMANDA_SERVER__LISTEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Print the security controls map: each public promise and the tests that prove it.
    Controls {
        /// Also run the live checks (TLS versions and suites, HSTS) against a deployment, e.g.
        /// `https://comanda.example`; exits 1 when one fails.
        #[arg(long, value_name = "URL")]
        live: Option<String>,
    },
    /// Generate a realistic history for demos, tests and benchmarks (new partners with their venues, menus, tables,
    /// guests, orders, split payments with tips, refunds, cancellations, reservations and no-shows) and load it in
    /// bulk with its analytics roll-ups. Adds to the database; never changes existing partners.
    Seed(SeedOptions),
    /// Token signing keys, and the key-encryption key that protects the platform key.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// The tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Encrypted backups: create, list, prune, restore, verify (a restore test), status.
    Backup {
        #[command(subcommand)]
        action: BackupCommand,
        /// Tests only: act as if the time were this RFC 3339 instant.
        #[arg(long, global = true, hide = true, value_name = "RFC3339")]
        now: Option<String>,
    },
    /// Card payments.
    Payments {
        #[command(subcommand)]
        action: PaymentsCommand,
    },
    /// Partners, as the platform's operator sees them.
    Partners {
        #[command(subcommand)]
        action: PartnersCommand,
    },
    /// Incidents and personal-data breaches: severity, timeline, decision-makers, affected partners and each
    /// authority's notification deadline (IR-1, IR-2).
    Incidents {
        #[command(subcommand)]
        action: IncidentsCommand,
        /// Tests only: act as if the time were this RFC 3339 instant.
        #[arg(long, global = true, hide = true, value_name = "RFC3339")]
        now: Option<String>,
    },
    /// Vulnerability reports and their clocks (VDP-2): acknowledged within 48 hours, triaged within 5 business
    /// days, a critical one fixed within 30 days of receipt.
    Reports {
        #[command(subcommand)]
        action: ReportsCommand,
        /// Tests only: act as if the time were this RFC 3339 instant.
        #[arg(long, global = true, hide = true, value_name = "RFC3339")]
        now: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum IncidentsCommand {
    /// Open an incident (IR-1): its severity, what happened, who decides.
    Open {
        /// critical, high, medium, low or informational.
        #[arg(long)]
        severity: String,
        #[arg(long)]
        summary: String,
        /// The decision-makers (names or roles).
        #[arg(long, value_name = "NAMES")]
        decided_by: String,
    },
    /// Add what happened to the incident's timeline.
    Note { id: String, entry: String },
    /// Record a personal-data breach (IR-2): the partners affected are computed from their audit logs over the
    /// window (and action or actor, when given), and the notification deadlines start at --aware.
    Breach {
        id: String,
        /// When comanda became aware of the breach (RFC 3339); now by default.
        #[arg(long, value_name = "RFC3339")]
        aware: Option<String>,
        /// The window the breach covers (RFC 3339).
        #[arg(long, value_name = "RFC3339")]
        from: String,
        #[arg(long, value_name = "RFC3339")]
        until: String,
        /// Only audit entries of this action (or prefix ending in `.`, e.g. `staff.`).
        #[arg(long)]
        action: Option<String>,
        /// Only audit entries of this member (their id).
        #[arg(long, value_name = "ID")]
        actor: Option<String>,
        /// Correct the breach already recorded on this open incident: the partners are computed again from the
        /// window given, --aware replaces when comanda became aware (kept when omitted); the timeline keeps what
        /// each was before.
        #[arg(long)]
        amend: bool,
    },
    /// Record that an authority was notified (`GDPR`, `CO-1581`, `US-<state>`).
    Notified {
        id: String,
        #[arg(long)]
        jurisdiction: String,
    },
    /// Close an incident. A breach closes only once every authority's notification is recorded, or with
    /// --notice-not-required saying why none is owed (the timeline keeps it).
    Close {
        id: String,
        /// Why the authorities not yet notified need no notice (GDPR Art. 33(1): the breach is unlikely to result
        /// in a risk to people); written to the timeline, as Art. 33(5) requires.
        #[arg(long, value_name = "WHY")]
        notice_not_required: Option<String>,
    },
    /// Open incidents; with --all, closed ones too.
    List {
        #[arg(long)]
        all: bool,
    },
    /// One incident: its timeline, affected partners and each notification deadline.
    Show { id: String },
    /// Raise the alert of every breach deadline in its last 12 hours or overdue (once per jurisdiction), print
    /// them; exit status 1 when any is overdue. The running server does this every ten minutes.
    Check,
}

#[derive(Debug, Subcommand)]
enum ReportsCommand {
    /// Record a report as it arrived (its summary in your words; the reporter's contact stays in the mailbox).
    Add {
        #[arg(long)]
        summary: String,
        /// When it arrived (RFC 3339); now by default.
        #[arg(long, value_name = "RFC3339")]
        received: Option<String>,
        /// The name to credit; only with --reporter-asked-for-credit (reporters are credited only with permission).
        #[arg(long, value_name = "NAME")]
        credit: Option<String>,
        #[arg(long)]
        reporter_asked_for_credit: bool,
    },
    /// The reporter was told the report arrived.
    Acknowledge { id: String },
    /// The report was assessed; a critical one starts the 30-day fix clock.
    Triage {
        id: String,
        /// critical, high, medium, low or informational.
        #[arg(long)]
        severity: String,
    },
    /// The fix is released.
    Fixed { id: String },
    /// Open reports and each step's deadline; with --all, fixed ones too.
    List {
        #[arg(long)]
        all: bool,
    },
    /// The names to credit (fixed reports whose reporter asked for it).
    Credits,
    /// Raise the alert of every clock in its last stretch or overdue (once per step), print them; exit status 1
    /// when any is overdue. The running server does this every ten minutes.
    Check,
}

#[derive(Debug, Subcommand)]
enum PartnersCommand {
    /// List the partners: id, business name, country, when it joined, whether it was offboarded, and its venues
    /// with their ids and time zones (the ids `partners offboard` and `incidents breach --partner` take).
    List,
    /// Offboard a partner (PRIV-1): its data keys are destroyed, so every personal field it held is unreadable here
    /// and in every backup; its members can no longer sign in and its QR codes open nothing. Orders, amounts and the
    /// audit chain stay, without identity. Cannot be undone.
    Offboard {
        /// The partner's id.
        #[arg(long, value_name = "ID")]
        partner: String,
        /// Confirm: this destroys keys for good.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PaymentsCommand {
    /// Compare succeeded payments with Stripe's succeeded PaymentIntents, both ways (MON-3); every mismatch is
    /// printed and raised as an alert, and the exit status is 1 when there is any.
    Reconcile {
        /// How far back to look.
        #[arg(long, default_value_t = 48)]
        hours: u64,
    },
    /// Stripe's webhook endpoints.
    Webhooks {
        #[command(subcommand)]
        action: WebhooksCommand,
    },
}

#[derive(Debug, Subcommand)]
enum WebhooksCommand {
    /// Create comanda's two webhook endpoints at Stripe, both rendering events at the client's pinned API version:
    /// the platform endpoint (payment_intent.*, charge.*) and the Connect endpoint (account.updated, payout.*).
    /// Prints the secrets to set as `payments.webhook_secret` and `payments.connect_webhook_secret`. With
    /// `--print`, only prints what to configure in the Dashboard (nothing is created).
    Setup {
        /// The public origin Stripe delivers to (`https://comanda.example`).
        #[arg(long, value_name = "URL")]
        url: String,
        #[arg(long)]
        print: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check every partner's hash chain, month by month, against its signed checkpoints (MON-5). Names the first
    /// edited, deleted or reordered entry; the exit status is 1 when any chain does not verify.
    Verify {
        /// Only this partner (its id).
        #[arg(long, value_name = "ID")]
        partner: Option<String>,
    },
    /// After looking into an `audit.unanchored` alert and finding the unsigned entries are what was written (a
    /// server that died before its checkpoint, not a rewrite): records the decision in the partner's chain, then
    /// signs its heads. Never run it to silence a chain you have not looked at.
    Anchor {
        /// The partner (its id).
        #[arg(long, value_name = "ID")]
        partner: String,
        /// What was looked at and why the entries are genuine; kept in the chain.
        #[arg(long)]
        reason: String,
        /// Confirms the decision.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Snapshot the database, compress, encrypt with the backup key and write it to every target; succeeds only
    /// when every target holds an intact copy.
    Create,
    /// Every backup on every target: name, creation time, size, and whether that copy is intact.
    List,
    /// Delete the backups older than backup.retention_days (30) on every target.
    Prune,
    /// Replace the database with a backup (the newest by default). Stop the server first: refused while it runs.
    Restore {
        /// The object name (`2026-11-23T12-00-00Z-sqlite.cmdb.age`, with or without `backups/`).
        name: Option<String>,
        /// Confirm that the current database is to be replaced.
        #[arg(long)]
        yes: bool,
    },
    /// Restore test: restore the newest backup into a scratch database and check checksums, row counts and
    /// integrity; the result is recorded, and a failure raises an alert (exit status 1).
    Verify,
    /// The last backup and restore test; raises backup.restore-test-stale (exit status 1) when the last successful
    /// restore test is older than backup.restore_test_max_age_days (31).
    Status,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new signing key now; the previous one keeps verifying until its tokens expire. Running servers pick
    /// it up within a minute, or at once when they meet a token it signed.
    Rotate {
        /// The previous keys leaked: stop them verifying now instead of after their tokens' 15 minutes (running
        /// servers drop them within a minute; members signed in get a new access token with their refresh token)
        #[arg(long)]
        revoke_previous: bool,
    },
    /// List the signing keys: the one that signs, those still verifying, retired and revoked ones.
    List,
    /// Make a new key-encryption-key version in the KMS (key file or PKCS#11 token) and rewrap the platform key
    /// under it; older versions keep decrypting (REST-3). On Cloud KMS, versions are made in Cloud KMS instead.
    RotateKek,
    /// Re-encrypt the platform key under the KMS's newest key-encryption-key version (REST-3).
    Rewrap,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        _ => None,
    };
    let overrides = Overrides {
        config_file: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        listen,
    };
    let config = match Config::load(&overrides) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("comanda: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("comanda: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Commands that read an installation refuse a directory that holds none, rather than make a new one and answer
    // for it: a cron's `audit verify` with a mistyped --data-dir said "0 chain(s) verified" and exited 0.
    let reads_an_installation = matches!(
        cli.command,
        Command::Audit { .. }
            | Command::Incidents { .. }
            | Command::Reports { .. }
            | Command::Partners { .. }
            | Command::Payments {
                action: PaymentsCommand::Reconcile { .. }
            }
            | Command::Keys { .. }
    );
    if reads_an_installation && let Err(missing) = installation_present(&config) {
        eprintln!("comanda: {missing}");
        return ExitCode::from(2);
    }
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve { .. } => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Config => {
                print!("{}{}", config.to_redacted_toml(), config.derived_comments());
                Ok(())
            }
            Command::Keys { action } => keys(config, action).await,
            Command::Backup { action, now } => backup(config, action, now.as_deref()).await,
            Command::Payments {
                action: PaymentsCommand::Reconcile { hours },
            } => reconcile(config, hours).await,
            Command::Payments {
                action:
                    PaymentsCommand::Webhooks {
                        action: WebhooksCommand::Setup { url, print },
                    },
            } => setup_webhooks(config, &url, print).await,
            Command::Audit {
                action: AuditCommand::Verify { partner },
            } => verify_audit(config, partner).await,
            Command::Audit {
                action: AuditCommand::Anchor { partner, reason, yes },
            } => anchor_audit(config, &partner, &reason, yes).await,
            Command::Partners {
                action: PartnersCommand::Offboard { partner, yes },
            } => offboard(config, &partner, yes).await,
            Command::Partners {
                action: PartnersCommand::List,
            } => list_partners(config).await,
            Command::Seed(options) => seed_history(config, options).await,
            Command::Reports { action, now } => reports(config, action, now.as_deref()).await,
            Command::Incidents { action, now } => incidents(config, action, now.as_deref()).await,
            Command::Controls { live } => {
                let broken: Vec<(&str, String)> = config
                    .broken_promises()
                    .into_iter()
                    .map(|b| (b.control, format!("{} ({})", b.why, b.field)))
                    .collect();
                print!("{}", controls::render(&controls::load()?, &broken));
                match live {
                    Some(url) => controls::live(&url).await,
                    None => Ok(()),
                }
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("comanda: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    comanda_server::install_crypto_provider();
    let _telemetry = comanda_server::logging::init(&config.log, &config.errors, &config.traces);
    let clock = Arc::new(comanda_server::SystemClock);
    let server = comanda_server::start(&config, clock).await?;
    // The banner is for the person starting it: stderr, so stdout stays JSON lines a log shipper reads whole
    // (docs/deployment.md).
    eprintln!("comanda {} started", env!("CARGO_PKG_VERSION"));
    for choice in &server.choices {
        eprintln!("  {choice}");
    }
    server.run_until_signal().await
}

async fn keys(config: Config, action: KeysCommand) -> anyhow::Result<()> {
    if let KeysCommand::RotateKek | KeysCommand::Rewrap = action {
        let new_version = matches!(action, KeysCommand::RotateKek);
        // One rewrap at a time: two at once both read version N, one wrote N+1 into the key file the other then
        // replaced, and the platform key was left wrapped under a key-encryption key no file held. The lock is the
        // operating system's, released when this process ends however it ends.
        std::fs::create_dir_all(&config.data_dir)?;
        let lock_path = config.data_dir.join("keys.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            anyhow::bail!(
                "another `comanda keys rotate-kek` or `keys rewrap` is running on {}: let it finish, then check \
                 `comanda keys list`",
                config.data_dir.display()
            );
        }
        let clock = Arc::new(comanda_server::SystemClock);
        let (before, after) = comanda_server::serve::rewrap_platform_key(&config, clock, new_version).await?;
        if before == after {
            out!("platform key already under key-encryption-key version {after}");
        } else {
            out!("platform key rewrapped from key-encryption-key version {before} to {after}");
        }
        let local = config.kms.backend == comanda_server::config::KmsBackend::LocalFile;
        // The copies kept off the machine for a restore (docs/backups.md) know only the older versions: said as
        // soon as the key file changed, whatever happens to the data keys next.
        let recopy = || {
            out!(
                "copy {} and platform.key.wrapped off the machine again now: the copies kept there cannot open the \
                 keys rewrapped to version {after}",
                config.kms_key_path().display()
            );
        };
        if before != after && local {
            recopy();
        }
        let moved =
            comanda_server::serve::rewrap_data_keys(&config, Arc::new(comanda_server::SystemClock)).await?;
        out!("{moved} data key(s) in the database rewrapped to the newest key-encryption-key version");
        if before == after && moved > 0 && local {
            recopy();
        }
        return Ok(());
    }
    let manager = comanda_server::serve::key_manager(&config, Arc::new(comanda_server::SystemClock)).await?;
    match action {
        KeysCommand::Rotate { revoke_previous } => {
            out!("new signing key {}", manager.rotate_now(revoke_previous).await?);
            if revoke_previous {
                out!(
                    "every older key revoked: their tokens no longer verify here, and on running servers within \
                     a minute"
                );
            }
        }
        KeysCommand::List => {
            use comanda_server::auth::keys::KeyState;
            for key in manager.list().await? {
                let state = match key.state {
                    KeyState::Signs => "signs".to_owned(),
                    KeyState::Verifies => "verifies".to_owned(),
                    KeyState::Retired => "retired".to_owned(),
                    KeyState::Revoked(at) => format!("revoked {}", shown(at)),
                };
                out!("{}  created {}  {state}", key.kid, shown(key.created_at));
            }
        }
        KeysCommand::RotateKek | KeysCommand::Rewrap => {}
    }
    Ok(())
}

async fn backup(config: Config, action: BackupCommand, now: Option<&str>) -> anyhow::Result<()> {
    use comanda_store::backup_runs::BackupRunKind;
    comanda_server::install_crypto_provider();
    let clock: Arc<dyn comanda_server::Clock> = match now {
        Some(text) => {
            let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(|e| anyhow::anyhow!("--now {text}: {e}"))?;
            Arc::new(comanda_domain::ManualClock::at(at))
        }
        None => Arc::new(comanda_server::SystemClock),
    };
    if let BackupCommand::Restore { name, yes } = &action {
        if !yes {
            anyhow::bail!(
                "this replaces the current database with a backup: stop the server, then run again with --yes"
            );
        }
        let (backups, _) = comanda_server::serve::backups(&config, clock, false).await?;
        let restored = backups.restore(name.as_deref()).await?;
        out!(
            "restored {} from {} ({})",
            restored.object,
            restored.from_target,
            restored.note
        );
        return Ok(());
    }
    let (backups, store) = comanda_server::serve::backups(&config, clock.clone(), true).await?;
    let store = store.ok_or_else(|| anyhow::anyhow!("the database could not be opened"))?;
    let outcome = match action {
        BackupCommand::Create => backups.run_backup(store.as_ref()).await.map(|created| {
            out!("created {}", created.object);
            for target in &created.targets {
                out!("  written to {target} and read back");
            }
            let rows: i64 = created.manifest.tables.values().sum();
            out!(
                "  {} bytes encrypted ({} bytes snapshot), {} tables, {rows} rows, schema version {}",
                created.manifest.object_bytes,
                created.manifest.snapshot_bytes,
                created.manifest.tables.len(),
                created.manifest.schema_version
            );
        }),
        BackupCommand::List => backups.list().await.and_then(|listings| {
            for listing in &listings {
                let created = listing
                    .created_at
                    .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
                    .unwrap_or_else(|| "?".into());
                let verified = match &listing.verified {
                    Ok(()) => "verified".to_owned(),
                    Err(problem) => format!("NOT VERIFIED: {problem}"),
                };
                out!(
                    "{}  {}  {}  {} bytes  {verified}",
                    listing.target,
                    listing.object,
                    created,
                    listing.bytes
                );
            }
            if listings.is_empty() {
                out!("no backups");
            }
            // A script checking its backups stops on a copy that is not intact, or a target not listed.
            let unverified = listings.iter().filter(|l| l.verified.is_err()).count();
            if unverified > 0 {
                return Err(comanda_backup::BackupError::Integrity(format!(
                    "{unverified} listed copy(ies) NOT VERIFIED"
                )));
            }
            Ok(())
        }),
        BackupCommand::Prune => backups.prune().await.map(|deleted| {
            for (target, object) in &deleted {
                out!("deleted {target} {object}");
            }
            out!("pruned {} object(s)", deleted.len());
        }),
        BackupCommand::Verify => {
            let checks = comanda_server::serve::restore_checks(&config).await?;
            let report = backups.run_verify(store.as_ref(), &checks).await?;
            // The result went into each partner's audit chain: anchored now, not at the server's next upkeep.
            comanda_server::serve::checkpoint_audit_chains(&config, clock.clone()).await?;
            for check in &report.checks {
                out!("ok       {check}");
            }
            for problem in &report.problems {
                out!("FAILED   {problem}");
            }
            if report.ok() {
                out!("restore test of {} passed", report.object);
                Ok(())
            } else {
                store.close().await;
                anyhow::bail!("restore test of {} failed; alert raised", report.object)
            }
        }
        BackupCommand::Status => {
            let last_backup = store.last_backup_run(BackupRunKind::Backup, false).await?;
            let last_test = store.last_backup_run(BackupRunKind::RestoreTest, false).await?;
            for (what, run) in [("last backup", last_backup), ("last restore test", last_test)] {
                match run {
                    Some(run) => out!(
                        "{what}: {} at {} ({}): {}",
                        if run.ok { "ok" } else { "FAILED" },
                        run.finished_at,
                        run.object,
                        run.detail
                    ),
                    None => out!("{what}: never"),
                }
            }
            // A monitor runs this: it fails when there is no good backup as recent as the schedule promises (two
            // intervals, so one failed run is the `backup.failed` alert's, not this), not only on a stale restore test.
            let last_good = store.last_backup_run(BackupRunKind::Backup, true).await?;
            let interval = time::Duration::hours(i64::try_from(config.backup.every_hours).unwrap_or(24));
            let now = clock.now();
            let backup_stale = last_good
                .as_ref()
                .is_none_or(|run| now - run.finished_at > interval * 2);
            let staleness = backups.check_restore_test_age(store.as_ref()).await?;
            if backup_stale {
                store.close().await;
                anyhow::bail!(
                    "no backup has succeeded in the last {} hours ({}): see the failed runs above and \
                     `comanda backup create`",
                    2 * config.backup.every_hours,
                    last_good.map_or("none ever".to_owned(), |run| format!(
                        "the last at {}",
                        run.finished_at
                    ))
                )
            }
            if staleness.stale {
                store.close().await;
                anyhow::bail!(
                    "the last successful restore test is too old; alert backup.restore-test-stale raised"
                )
            }
            Ok(())
        }
        BackupCommand::Restore { .. } => Ok(()),
    };
    store.close().await;
    Ok(outcome?)
}

async fn reconcile(config: Config, hours: u64) -> anyhow::Result<()> {
    let clock: Arc<dyn comanda_server::Clock> = Arc::new(comanda_server::SystemClock);
    let mismatches = comanda_server::serve::reconcile_payments(&config, clock, hours).await?;
    for mismatch in &mismatches {
        out!("MISMATCH {mismatch}");
    }
    if mismatches.is_empty() {
        out!("payments reconcile: every paid bill matches a succeeded payment at Stripe, and vice versa");
        Ok(())
    } else {
        anyhow::bail!("{} payment mismatch(es); alerts raised", mismatches.len())
    }
}

async fn setup_webhooks(config: Config, url: &str, print: bool) -> anyhow::Result<()> {
    use comanda_server::payments::WebhookEndpoint;
    let origin = url.trim_end_matches('/');
    if !origin.starts_with("https://") {
        anyhow::bail!("--url must be the public https:// origin Stripe delivers to");
    }
    let version = comanda_payments::stripe::API_VERSION;
    let endpoints = [
        (WebhookEndpoint::Platform, false, "payments.webhook_secret"),
        (WebhookEndpoint::Connect, true, "payments.connect_webhook_secret"),
    ];
    if print {
        for (endpoint, connect, setting) in endpoints {
            out!(
                "{} endpoint: {origin}{}\n  listen to: {}\n  API version: {version}\n  events: {}\n  its signing secret goes in {setting}",
                if connect { "Connect" } else { "Platform" },
                endpoint.path(),
                if connect {
                    "events on connected accounts"
                } else {
                    "events on your account"
                },
                endpoint.events().join(", "),
            );
        }
        return Ok(());
    }
    if config.payments.provider != comanda_server::config::PaymentProvider::Stripe {
        anyhow::bail!(
            "payments.provider is not \"stripe\": demo mode's stand-in lives inside `comanda serve`"
        );
    }
    let secret = config
        .payments
        .secret_key
        .clone()
        .ok_or_else(|| anyhow::anyhow!("payments.secret_key is required"))?;
    let client = comanda_payments::StripeClient::new(&config.payments.api_base, secret)?;
    let existing = client.webhook_endpoints().await?.data;
    for (endpoint, connect, setting) in endpoints {
        let url = format!("{origin}{}", endpoint.path());
        // Run again (after an upgrade that reads more events), an endpoint already at this URL and version keeps
        // its secret and is given the events it lacks; an endpoint at another version is left for the operator.
        if let Some(found) = existing
            .iter()
            .find(|e| e.url == url && e.api_version.as_deref() == Some(version))
        {
            let missing: Vec<&str> = endpoint
                .events()
                .iter()
                .copied()
                .filter(|event| !found.enabled_events.iter().any(|e| e == event || e == "*"))
                .collect();
            if missing.is_empty() {
                out!(
                    "{url} ({}): receives every event comanda reads; {setting} unchanged",
                    found.id
                );
                continue;
            }
            let mut events: Vec<&str> = found.enabled_events.iter().map(String::as_str).collect();
            events.extend(&missing);
            client
                .set_webhook_endpoint_events(
                    &found.id,
                    &events,
                    &format!("webhook-events-{}-{}", found.id, uuid::Uuid::now_v7()),
                )
                .await?;
            out!(
                "{url} ({}): now also receives {}; {setting} unchanged",
                found.id,
                missing.join(", ")
            );
            continue;
        }
        let created = client
            .create_webhook_endpoint(
                &url,
                endpoint.events(),
                connect,
                &format!("webhook-endpoint-{}-{}", endpoint.path(), uuid::Uuid::now_v7()),
            )
            .await?;
        if created.api_version.as_deref() != Some(version) {
            anyhow::bail!(
                "Stripe created {} at API version {:?}, not {version}",
                created.id,
                created.api_version
            );
        }
        out!(
            "{} ({}, API version {version}): set {setting} = \"{}\"",
            created.url,
            created.id,
            created
                .secret
                .as_deref()
                .unwrap_or("(not returned; roll it in the Dashboard)")
        );
    }
    Ok(())
}

async fn verify_audit(config: Config, partner: Option<String>) -> anyhow::Result<()> {
    let only = partner
        .map(|raw| {
            raw.parse::<uuid::Uuid>()
                .map(comanda_domain::PartnerId::from_uuid)
                .map_err(|_| anyhow::anyhow!("--partner must be a partner id"))
        })
        .transpose()?;
    let (statuses, missing_guards) =
        comanda_server::serve::verify_audit_chains(&config, Arc::new(comanda_server::SystemClock), only)
            .await?;
    let mut broken = 0;
    for guard in &missing_guards {
        out!(
            "BROKEN: the append-only guard {guard} is missing or disabled (see docs/audit.md, \"Append-only guards\")"
        );
    }
    for status in &statuses {
        match &status.outcome {
            Ok(report) => out!(
                "partner {}: verified {} entries in {} months ({} pruned), {} signed checkpoints",
                status.partner,
                report.entries,
                report.shards,
                report.pruned_shards,
                report.checkpoints
            ),
            Err(chain_break) => {
                broken += 1;
                out!("partner {}: BROKEN: {chain_break}", status.partner);
            }
        }
    }
    if !missing_guards.is_empty() {
        anyhow::bail!(
            "{} append-only guard(s) missing or disabled: the newest entries could have been edited without a trace",
            missing_guards.len()
        );
    }
    if broken > 0 {
        anyhow::bail!("{broken} of {} audit chain(s) do not verify", statuses.len());
    }
    out!("audit verify: {} chain(s) verified", statuses.len());
    Ok(())
}

async fn anchor_audit(config: Config, partner: &str, reason: &str, yes: bool) -> anyhow::Result<()> {
    let partner = partner
        .parse::<uuid::Uuid>()
        .map(comanda_domain::PartnerId::from_uuid)
        .map_err(|_| anyhow::anyhow!("--partner must be a partner id"))?;
    if !yes {
        anyhow::bail!(
            "this signs whatever the chain holds now: look into the audit.unanchored alert first, then add --yes"
        );
    }
    if reason.trim().is_empty() {
        anyhow::bail!("--reason: say what was looked at and why the entries are genuine");
    }
    let signed = comanda_server::serve::anchor_audit_chain(
        &config,
        Arc::new(comanda_server::SystemClock),
        partner,
        reason,
    )
    .await?;
    out!("partner {partner}: decision recorded, {signed} checkpoint(s) signed");
    Ok(())
}

async fn list_partners(config: Config) -> anyhow::Result<()> {
    let listed = comanda_server::serve::list_partners(&config, Arc::new(comanda_server::SystemClock)).await?;
    if listed.is_empty() {
        out!("no partners yet");
    }
    for l in listed {
        let p = &l.partner;
        let state = if l.offboarded { "  OFFBOARDED" } else { "" };
        out!(
            "{}  {}  {}  joined {}  {} venue(s){state}",
            p.id,
            p.business_name,
            p.country.code(),
            shown(p.created_at),
            l.venues.len()
        );
        for v in &l.venues {
            out!("    venue {}  {}  {}", v.id, v.name, v.timezone);
        }
    }
    Ok(())
}

async fn offboard(config: Config, partner: &str, yes: bool) -> anyhow::Result<()> {
    let partner = partner
        .parse::<uuid::Uuid>()
        .map(comanda_domain::PartnerId::from_uuid)
        .map_err(|_| anyhow::anyhow!("--partner must be a partner id"))?;
    if !yes {
        anyhow::bail!("offboarding destroys the partner's data keys for good: add --yes to go ahead");
    }
    let done =
        comanda_server::serve::offboard_partner(&config, Arc::new(comanda_server::SystemClock), partner)
            .await?;
    if let Some(at) = done.already {
        out!(
            "partner {partner} was offboarded already, at {}: nothing more to destroy; its mail files are deleted",
            shown(at)
        );
        return Ok(());
    }
    comanda_server::serve::checkpoint_audit_chains(&config, Arc::new(comanda_server::SystemClock)).await?;
    out!(
        "partner {partner} offboarded: {} data key(s) destroyed, {} sign-in record(s) removed, {} table(s) unlisted; \
         the keys survive only in key-store backups younger than backup.keystore_retention_days",
        done.keys_destroyed,
        done.sign_ins_removed,
        done.tables_unlisted
    );
    Ok(())
}

/// An instant as the operator reads it: RFC 3339 in UTC, to the second (`2026-12-02T12:34:55Z`), as the flags take it.
fn shown(at: time::OffsetDateTime) -> String {
    let utc = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(at);
    utc.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// Whether `config` points at an installation: its data directory, and the embedded database in it when no
/// database URL is set (`comanda migrate` or `serve` makes both).
fn installation_present(config: &Config) -> Result<(), String> {
    let dir = config.data_dir();
    let missing = if !dir.is_dir() {
        Some(format!("there is no data directory {}", dir.display()))
    } else if config.is_embedded_database() && !config.sqlite_path().exists() {
        Some(format!("{} holds no comanda database", dir.display()))
    } else {
        None
    };
    match missing {
        Some(missing) => Err(format!(
            "{missing}: check --data-dir (or COMANDA_DATA_DIR, or the working directory, where the default \
             comanda-data is), or run `comanda migrate` to set one up"
        )),
        None => Ok(()),
    }
}

fn instant(text: &str, flag: &str) -> anyhow::Result<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| anyhow::anyhow!("{flag} {text}: {e}"))
}

async fn incidents(config: Config, action: IncidentsCommand, now: Option<&str>) -> anyhow::Result<()> {
    use comanda_domain::disclosure::{ClockState, Severity};
    use comanda_domain::incident::notice_deadlines;
    let now = match now {
        Some(text) => instant(text, "--now")?,
        None => comanda_domain::Clock::now(&comanda_server::SystemClock),
    };
    let states = config.incidents.us_state_notice_hours.clone();
    let resources = comanda_server::embedded::prepare(&config, &comanda_server::SystemClock)?;
    let store = comanda_store::open(&resources.database).await?;
    let id = |text: &str| {
        text.parse::<uuid::Uuid>()
            .map_err(|_| anyhow::anyhow!("{text} is not an incident id"))
    };
    let severity_of = |text: &str| {
        Severity::parse(text)
            .ok_or_else(|| anyhow::anyhow!("--severity is one of critical, high, medium, low, informational"))
    };
    let state_of = |state: ClockState| match state {
        ClockState::Running => "running",
        ClockState::DueSoon => "due soon",
        ClockState::Overdue => "OVERDUE",
    };
    let outcome: anyhow::Result<()> = async {
        match action {
            IncidentsCommand::Open {
                severity,
                summary,
                decided_by,
            } => {
                let (summary, decided_by) = (summary.trim(), decided_by.trim());
                if summary.is_empty() || decided_by.is_empty() {
                    anyhow::bail!("--summary and --decided-by are needed");
                }
                let incident = store
                    .open_incident(severity_of(&severity)?, summary, decided_by, now)
                    .await?;
                out!("incident {} opened", incident.id);
            }
            IncidentsCommand::Note { id: text, entry } => {
                store.add_timeline(id(&text)?, now, entry.trim()).await?;
                out!("noted");
            }
            IncidentsCommand::Breach {
                id: text,
                aware,
                from,
                until,
                action,
                actor,
                amend,
            } => {
                let recorded = if amend {
                    let incident = store.incident(id(&text)?).await?;
                    let Some(aware) = incident.aware_at else {
                        anyhow::bail!(
                            "incident {text} is not recorded as a breach yet: run this without --amend"
                        );
                    };
                    Some(aware)
                } else {
                    None
                };
                let aware = match aware {
                    Some(text) => instant(&text, "--aware")?,
                    None => recorded.unwrap_or(now),
                };
                if aware > now {
                    anyhow::bail!(
                        "--aware {aware} is in the future: it is when comanda became aware of the breach"
                    );
                }
                if instant(&from, "--from")? > instant(&until, "--until")? {
                    anyhow::bail!("--from must not be after --until: the window the breach exposed");
                }
                let actor = actor
                    .map(|a| {
                        a.parse::<uuid::Uuid>()
                            .map_err(|_| anyhow::anyhow!("--actor must be a member id"))
                    })
                    .transpose()?;
                let affected = comanda_server::incidents::affected_partners(
                    store.as_ref(),
                    instant(&from, "--from")?,
                    instant(&until, "--until")?,
                    action,
                    actor,
                )
                .await?;
                let incident = if amend {
                    store.amend_breach(id(&text)?, aware, &affected, now).await?
                } else {
                    store.record_breach(id(&text)?, aware, &affected, &states, now).await?
                };
                out!(
                    "incident {} is a personal-data breach{} affecting {} partner(s)",
                    incident.id,
                    if amend { " (amended)" } else { "" },
                    affected.len()
                );
                for partner in &affected {
                    out!("  partner {partner}");
                }
                for deadline in notice_deadlines(aware, incident.us_state_hours.as_ref().unwrap_or(&states)) {
                    out!("  notify {} by {}", deadline.jurisdiction, shown(deadline.due));
                }
            }
            IncidentsCommand::Notified {
                id: text,
                jurisdiction,
            } => {
                // Only a deadline this breach has, spelled as its deadline is (`gdpr` is GDPR): a misspelling
                // recorded as notified would leave the real deadline overdue with no way to correct it.
                let incident = store.incident(id(&text)?).await?;
                let Some(aware) = incident.aware_at else {
                    anyhow::bail!(
                        "incident {text} is not a personal-data breach: it has no notification deadline"
                    );
                };
                let deadlines = notice_deadlines(aware, incident.us_state_hours.as_ref().unwrap_or(&states));
                let Some(deadline) = deadlines
                    .iter()
                    .find(|d| d.jurisdiction.eq_ignore_ascii_case(jurisdiction.trim()))
                else {
                    anyhow::bail!(
                        "--jurisdiction {jurisdiction}: this breach's deadlines are {}",
                        deadlines
                            .iter()
                            .map(|d| d.jurisdiction.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                };
                let jurisdiction = &deadline.jurisdiction;
                if store.record_notified(incident.id, jurisdiction, now).await? {
                    out!("{jurisdiction} notified");
                } else {
                    out!("{jurisdiction} was already recorded as notified");
                }
            }
            IncidentsCommand::Close {
                id: text,
                notice_not_required,
            } => {
                let incident = store.incident(id(&text)?).await?;
                if let Some(at) = incident.closed_at {
                    anyhow::bail!("incident {text} was closed already, at {}", shown(at));
                }
                let unnotified: Vec<String> = incident
                    .aware_at
                    .map(|aware| notice_deadlines(aware, incident.us_state_hours.as_ref().unwrap_or(&states)))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|deadline| !incident.notified.contains(&deadline.jurisdiction))
                    .map(|deadline| deadline.jurisdiction)
                    .collect();
                if unnotified.is_empty() && notice_not_required.is_some() {
                    anyhow::bail!(
                        "incident {text} owes no notification (none, or each recorded): close it without \
                         --notice-not-required"
                    );
                }
                if !unnotified.is_empty() {
                    let list = unnotified.join(", ");
                    let Some(reason) = notice_not_required.as_deref().map(str::trim).filter(|r| !r.is_empty())
                    else {
                        anyhow::bail!(
                            "incident {text} is a breach with no notification recorded for {list}: record each \
                             (`comanda incidents notified {text} --jurisdiction …`), or, when no notice is owed (GDPR \
                             Art. 33(1): unlikely to result in a risk to people), close it with \
                             --notice-not-required \"<why>\""
                        );
                    };
                    store
                        .add_timeline(incident.id, now, &format!("closed without notifying {list}: {reason}"))
                        .await?;
                }
                store.close_incident(incident.id, now).await?;
                out!("incident {text} closed");
            }
            IncidentsCommand::List { all } => {
                for incident in store.incidents(!all).await? {
                    out!(
                        "{} {} opened {}: {}{}{}",
                        incident.id,
                        incident.severity.as_str(),
                        shown(incident.opened_at),
                        incident.summary,
                        if incident.aware_at.is_some() {
                            " (personal-data breach)"
                        } else {
                            ""
                        },
                        incident
                            .closed_at
                            .map(|at| format!(" [closed {}]", shown(at)))
                            .unwrap_or_default()
                    );
                }
            }
            IncidentsCommand::Show { id: text } => {
                let incident = store.incident(id(&text)?).await?;
                out!(
                    "incident {} ({}): {}",
                    incident.id,
                    incident.severity.as_str(),
                    incident.summary
                );
                out!("decided by {}", incident.decided_by);
                for (at, entry) in &incident.timeline {
                    out!("  {}  {entry}", shown(*at));
                }
                if let Some(aware) = incident.aware_at {
                    out!("affected partners: {}", incident.affected_partners.len());
                    for deadline in notice_deadlines(aware, incident.us_state_hours.as_ref().unwrap_or(&states)) {
                        let state = if incident.notified.contains(&deadline.jurisdiction) {
                            "notified"
                        } else {
                            state_of(deadline.state(now))
                        };
                        out!(
                            "  notify {:<8} by {}  {state}",
                            deadline.jurisdiction,
                            shown(deadline.due)
                        );
                    }
                }
            }
            IncidentsCommand::Check => {
                let open = comanda_server::incidents::check_deadlines(store.as_ref(), &states, now).await?;
                let mut overdue = 0;
                for notice in open.iter().filter(|n| n.state != ClockState::Running) {
                    overdue += usize::from(notice.state == ClockState::Overdue);
                    out!(
                        "{} {} ({}): notify {} by {}",
                        state_of(notice.state),
                        notice.incident,
                        notice.summary,
                        notice.deadline.jurisdiction,
                        shown(notice.deadline.due)
                    );
                }
                if overdue > 0 {
                    anyhow::bail!(
                        "{overdue} notification deadline(s) overdue (alert ir.notification raised)"
                    );
                }
                out!("no notification deadline overdue");
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}

async fn reports(config: Config, action: ReportsCommand, now: Option<&str>) -> anyhow::Result<()> {
    use comanda_domain::disclosure::{ClockState, Severity, Step, clocks};
    let now = match now {
        Some(text) => instant(text, "--now")?,
        None => comanda_domain::Clock::now(&comanda_server::SystemClock),
    };
    let resources = comanda_server::embedded::prepare(&config, &comanda_server::SystemClock)?;
    let store = comanda_store::open(&resources.database).await?;
    let id = |text: &str| {
        text.parse::<uuid::Uuid>()
            .map_err(|_| anyhow::anyhow!("{text} is not a report id"))
    };
    let outcome: anyhow::Result<()> = async {
        match action {
            ReportsCommand::Add { summary, received, credit, reporter_asked_for_credit } => {
                if credit.is_some() && !reporter_asked_for_credit {
                    anyhow::bail!(
                        "reporters are credited only with their permission: add --reporter-asked-for-credit when \
                         they asked"
                    );
                }
                let summary = summary.trim();
                if summary.is_empty() {
                    anyhow::bail!("--summary is empty");
                }
                let received = match received {
                    Some(text) => instant(&text, "--received")?,
                    None => now,
                };
                // Its clocks run from it: a report "received" later than now would owe nothing yet, and one
                // centuries out would run past the calendar.
                if received > now {
                    anyhow::bail!(
                        "--received {received} is in the future: it is when the report reached comanda (now by default)"
                    );
                }
                let report = store.record_report(summary, received, credit.as_deref()).await?;
                out!("report {} recorded", report.id);
                for clock in clocks(report.received_at, None) {
                    out!("  {} by {}", clock.step.as_str(), shown(clock.due));
                }
            }
            ReportsCommand::Acknowledge { id: text } => {
                store.complete_step(id(&text)?, Step::Acknowledge, None, now).await?;
                out!("report {text} acknowledged");
            }
            ReportsCommand::Triage { id: text, severity } => {
                let severity = Severity::parse(&severity).ok_or_else(|| {
                    anyhow::anyhow!("--severity is one of critical, high, medium, low, informational")
                })?;
                let report = store.complete_step(id(&text)?, Step::Triage, Some(severity), now).await?;
                out!("report {text} triaged {}", severity.as_str());
                if let Some(fix) = clocks(report.received_at, report.severity).into_iter().find(|c| c.step == Step::Fix) {
                    out!("  fix by {}", shown(fix.due));
                }
            }
            ReportsCommand::Fixed { id: text } => {
                store.complete_step(id(&text)?, Step::Fix, None, now).await?;
                out!("report {text} fixed");
            }
            ReportsCommand::List { all } => {
                for report in store.disclosure_reports(!all).await? {
                    out!("{} received {}: {}", report.id, shown(report.received_at), report.summary);
                    for clock in clocks(report.received_at, report.severity) {
                        let state = if report.done(clock.step) {
                            "done"
                        } else {
                            match clock.state(now) {
                                ClockState::Running => "running",
                                ClockState::DueSoon => "due soon",
                                ClockState::Overdue => "OVERDUE",
                            }
                        };
                        out!("  {:<11} by {}  {state}", clock.step.as_str(), shown(clock.due));
                    }
                }
            }
            ReportsCommand::Credits => {
                for report in store.disclosure_reports(false).await? {
                    if let (Some(name), Some(_)) = (&report.credit, report.fixed_at) {
                        out!("{name}: {}", report.summary);
                    }
                }
            }
            ReportsCommand::Check => {
                let open = comanda_server::disclosure::check_clocks(store.as_ref(), now).await?;
                let mut overdue = 0;
                for step in open.iter().filter(|s| s.state != ClockState::Running) {
                    let overdue_here = step.state == ClockState::Overdue;
                    overdue += usize::from(overdue_here);
                    out!(
                        "{} {} ({}): {} due {}",
                        if overdue_here { "OVERDUE" } else { "due soon" },
                        step.report,
                        step.summary,
                        step.step.as_str(),
                        shown(step.due)
                    );
                }
                if overdue > 0 {
                    anyhow::bail!("{overdue} clock(s) overdue (alert vdp.clock raised)");
                }
                out!("no clock overdue");
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let clock = comanda_server::SystemClock;
    let resources = comanda_server::embedded::prepare(&config, &clock)?;
    comanda_server::serve::open_platform_keys(&config, &resources).await?;
    let report = comanda_store::migrate(&resources.database).await?;
    if report.applied.is_empty() {
        out!("schema is up to date (version {})", report.version);
    }
    for applied in &report.applied {
        out!("applied migration {} {}", applied.version, applied.name);
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
struct SeedOptions {
    /// Orders in all; venues are added so each has about --orders-per-venue-day a day.
    #[arg(long)]
    orders: u64,
    /// Business days of history.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// The last business day of the history, YYYY-MM-DD (default: yesterday in Bogotá).
    #[arg(long, value_name = "DATE")]
    last_day: Option<String>,
    /// A venue's orders on an average day (sets how many venues the orders need).
    #[arg(long, default_value_t = 150)]
    orders_per_venue_day: u32,
    /// Venues of each seeded partner.
    #[arg(long, default_value_t = 8)]
    venues_per_partner: u32,
    /// The owners' password (default: a random one, printed).
    #[arg(long)]
    password: Option<String>,
    /// The generator's seed: the same seed gives the same history.
    #[arg(long)]
    seed: Option<u64>,
    /// Venues loaded at once, each over its own connection (SQLite takes them one after another).
    #[arg(long, default_value_t = 2)]
    loaders: usize,
}

/// `comanda seed`: prints each partner's owner, and progress on stderr (one line rewritten on a terminal, a line
/// every tenth otherwise).
async fn seed_history(config: Config, options: SeedOptions) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    comanda_server::install_crypto_provider();
    let clock: Arc<dyn comanda_server::Clock> = Arc::new(comanda_server::SystemClock);
    let last_day = match options.last_day {
        Some(text) => time::Date::parse(&text, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| anyhow::anyhow!("--last-day: use a date YYYY-MM-DD"))?,
        // Yesterday in Bogotá (UTC−5 all year).
        None => (clock.now() - time::Duration::hours(5))
            .date()
            .previous_day()
            .unwrap_or(time::Date::MIN),
    };
    let (password, printed) = match options.password {
        Some(password) => (password, false),
        None => (format!("semilla-{}", uuid::Uuid::new_v4().simple()), true),
    };
    let plan = comanda_server::seed::SeedPlan {
        orders: options.orders,
        days: options.days.max(1),
        last_day,
        orders_per_venue_day: options.orders_per_venue_day.max(1),
        venues_per_partner: options.venues_per_partner.max(1),
        password: password.clone(),
        seed: options
            .seed
            .unwrap_or_else(|| clock.now().unix_timestamp().unsigned_abs()),
        loaders: options.loaders.max(1),
    };
    let plan_loaders = plan.loaders;
    let state = comanda_server::serve::offline_state(&config, clock.clone()).await?;
    eprintln!(
        "seeding {} orders over {} days ending {} in {} venues",
        plan.orders,
        plan.days,
        plan.last_day,
        comanda_server::seed::venues_needed(&plan)
    );
    let terminal = std::io::stderr().is_terminal();
    let mut shown = 0;
    let report = comanda_server::seed::seed(&state, &plan, |progress| {
        let line = comanda_server::seed::progress_line(&progress);
        let tenth = progress.orders_done * 10 / progress.orders_total.max(1);
        if terminal {
            eprint!("\r{line}");
        } else if tenth > shown || progress.orders_done == progress.orders_total {
            shown = tenth;
            eprintln!("{line}");
        }
    })
    .await?;
    if terminal {
        eprintln!();
    }
    state.store.close().await;
    let seeded: Vec<comanda_domain::PartnerId> = report
        .partners
        .iter()
        .map(|p| comanda_domain::PartnerId::from_uuid(p.partner))
        .collect();
    comanda_server::serve::checkpoint_seeded_chains(&config, clock.clone(), &seeded).await?;
    for partner in &report.partners {
        out!(
            "partner {} owner {} venues {}",
            partner.partner,
            partner.owner_email,
            partner
                .venues
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    if printed {
        out!("owners' password: {password}");
    }
    out!(
        "seeded {} orders ({} rows) in {:.1} s (generating {:.1} s; loading {:.1} s over {} connections)",
        report.orders,
        report.rows,
        report.elapsed.as_secs_f64(),
        report.generating.as_secs_f64(),
        report.loading.as_secs_f64(),
        plan_loaders
    );
    Ok(())
}
