//! The `[backup]` section of comanda's configuration.

use std::path::PathBuf;

use comanda_security::Secret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Scheduled backups and restore tests inside `comanda serve`.
    pub enabled: bool,
    /// A backup every this many hours (then old ones are pruned).
    pub every_hours: u64,
    /// A restore test (`comanda backup verify`) every this many days.
    pub verify_every_days: u64,
    /// How often the running server looks at the schedule (is a backup or a restore test due, is the last
    /// restore test stale), in seconds; the first look is a minute after start, or sooner when this is shorter.
    pub schedule_check_secs: u64,
    /// Backups older than this many days (by their creation time) are deleted (BAK-2).
    pub retention_days: u64,
    /// The `backup.restore-test-stale` alert fires when the last successful restore test is older than this.
    pub restore_test_max_age_days: u64,
    /// The age identity (X25519) backups are encrypted to; separate from the data keys (BAK-1). Defaults to
    /// `<data_dir>/backup.key`, created 0600 when missing and refused when other users can read it.
    pub key_file: Option<PathBuf>,
    /// The person-key store's own backup key (PRIV-1): separate from `key_file` and the data keys. Defaults to
    /// `<data_dir>/keystore-backup.key`.
    pub keystore_key_file: Option<PathBuf>,
    /// Key-store backups older than this many days are deleted (the newest is always kept): an erased person's key
    /// survives in them at most this long.
    pub keystore_retention_days: u64,
    /// Where every backup is written: `file:///dir` or `s3://bucket/prefix`, at least two (BAK-3). Empty: two
    /// local directories, `<data_dir>/backups/a` and `<data_dir>/backups/b` (embedded default only).
    pub targets: Vec<String>,
    /// PostgreSQL: the connection dumps are taken with and scratch databases created with. It must see every
    /// row (BYPASSRLS, e.g. with `pg_read_all_data`) and may create databases (CREATEDB). Defaults to
    /// `database.migration_url`, else `database.url`.
    pub database_url: Option<Secret<String>>,
    /// Where `pg_dump`, `pg_restore` and `psql` are; defaults to the newest `/usr/lib/postgresql/*/bin`, else
    /// `PATH`.
    pub pg_bin_dir: Option<PathBuf>,
    pub s3: S3Config,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            every_hours: 24,
            verify_every_days: 30,
            schedule_check_secs: 600,
            retention_days: 30,
            restore_test_max_age_days: 31,
            key_file: None,
            keystore_key_file: None,
            keystore_retention_days: 7,
            targets: Vec::new(),
            database_url: None,
            pg_bin_dir: None,
            s3: S3Config::default(),
        }
    }
}

/// Settings of every `s3://` target (AWS S3 or any S3-compatible service). Unset values fall back to the usual
/// `AWS_*` environment variables.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// `https://s3.eu-west-1.amazonaws.com`, `https://storage.googleapis.com`, `http://127.0.0.1:9000`, …
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret<String>>,
    /// Plain HTTP to the endpoint: only for an endpoint on loopback (tests, a local gateway).
    pub allow_http: bool,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
        }
    }
}

impl BackupConfig {
    /// Two configured targets that are not independent (BAK-3: "at least two independent storage targets"): local
    /// directories on one filesystem (the same device, or one inside the other), or prefixes of one S3 bucket.
    /// Answers the first such pair.
    pub fn targets_sharing_storage(&self) -> Option<(String, String)> {
        let parsed: Vec<(&String, crate::target::TargetUrl)> = self
            .targets
            .iter()
            .filter_map(|text| crate::target::TargetUrl::parse(text).ok().map(|url| (text, url)))
            .collect();
        for (i, (a_text, a)) in parsed.iter().enumerate() {
            for (b_text, b) in &parsed[i + 1..] {
                if shares_storage(a, b) {
                    return Some(((*a_text).clone(), (*b_text).clone()));
                }
            }
        }
        None
    }

    /// `Err((field, message))` for the first invalid value.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let invalid = |field, message: &str| Err((field, message.to_owned()));
        if !(1..=24 * 7).contains(&self.every_hours) {
            return invalid("backup.every_hours", "must be between 1 and 168");
        }
        if !(1..=31).contains(&self.verify_every_days) {
            return invalid(
                "backup.verify_every_days",
                "must be between 1 and 31 (a restore test at least monthly)",
            );
        }
        if !(1..=3600).contains(&self.schedule_check_secs) {
            return invalid("backup.schedule_check_secs", "must be between 1 and 3600");
        }
        if self.retention_days == 0 {
            return invalid("backup.retention_days", "must be at least 1");
        }
        if self.restore_test_max_age_days < self.verify_every_days {
            return invalid(
                "backup.restore_test_max_age_days",
                "must be at least backup.verify_every_days",
            );
        }
        if !self.targets.is_empty() && self.targets.len() < 2 {
            return invalid(
                "backup.targets",
                "needs at least two independent targets (or none for the embedded default)",
            );
        }
        for target in &self.targets {
            if let Err(message) = crate::target::TargetUrl::parse(target) {
                return Err(("backup.targets", message));
            }
        }
        if let Some(endpoint) = &self.s3.endpoint {
            let Ok(url) = url::Url::parse(endpoint) else {
                return invalid("backup.s3.endpoint", "is not a URL");
            };
            if url.scheme() == "http" && !(self.s3.allow_http && is_loopback(&url)) {
                return invalid(
                    "backup.s3.endpoint",
                    "plain http:// only to a loopback endpoint, with backup.s3.allow_http = true",
                );
            }
        }
        if self.s3.allow_http
            && !self
                .s3
                .endpoint
                .as_deref()
                .is_some_and(|e| url::Url::parse(e).is_ok_and(|u| is_loopback(&u)))
        {
            return invalid("backup.s3.allow_http", "is only allowed for a loopback endpoint");
        }
        Ok(())
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_daily_backups_monthly_restore_tests_thirty_days_kept() {
        let config = BackupConfig::default();
        config.validate().unwrap();
        assert!(config.enabled);
        assert_eq!(
            (
                config.every_hours,
                config.verify_every_days,
                config.retention_days
            ),
            (24, 30, 30)
        );
        assert_eq!(config.restore_test_max_age_days, 31);
    }

    #[test]
    fn plain_http_only_to_loopback_and_two_targets_at_least() {
        let mut config = BackupConfig::default();
        config.s3.endpoint = Some("http://s3.example.com".into());
        config.s3.allow_http = true;
        assert_eq!(config.validate().unwrap_err().0, "backup.s3.endpoint");
        config.s3.endpoint = Some("http://127.0.0.1:9000".into());
        config.validate().unwrap();
        config.s3.allow_http = false;
        assert_eq!(config.validate().unwrap_err().0, "backup.s3.endpoint");
        let mut config = BackupConfig {
            targets: vec!["file:///var/backups/comanda".into()],
            ..BackupConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().0, "backup.targets");
        config.targets.push("ftp://x".into());
        assert_eq!(config.validate().unwrap_err().0, "backup.targets");
        config.targets[1] = "s3://bucket/prefix".into();
        config.validate().unwrap();
    }
}

fn shares_storage(a: &crate::target::TargetUrl, b: &crate::target::TargetUrl) -> bool {
    use crate::target::TargetUrl;
    match (a, b) {
        (TargetUrl::S3 { bucket: x, .. }, TargetUrl::S3 { bucket: y, .. }) => x == y,
        (TargetUrl::Dir(x), TargetUrl::Dir(y)) => {
            x.starts_with(y)
                || y.starts_with(x)
                || matches!((device(x), device(y)), (Some(p), Some(q)) if p == q)
        }
        _ => false,
    }
}

/// The device of a directory, or of its nearest existing ancestor (a target's folder is created at first use).
fn device(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    path.ancestors()
        .find_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.dev())
}

#[cfg(test)]
mod sharing_tests {
    use super::*;

    fn with_targets(targets: &[&str]) -> BackupConfig {
        BackupConfig {
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            ..BackupConfig::default()
        }
    }

    #[test]
    fn targets_on_one_filesystem_or_one_bucket_are_not_independent() {
        let dir = std::env::temp_dir();
        let a = format!("file://{}", dir.join("comanda-a").display());
        let b = format!("file://{}", dir.join("comanda-b").display());
        assert!(
            with_targets(&[&a, &b]).targets_sharing_storage().is_some(),
            "one filesystem"
        );
        let nested = format!("file://{}", dir.join("comanda-a/inner").display());
        assert!(with_targets(&[&a, &nested]).targets_sharing_storage().is_some());
        let one_bucket = with_targets(&["s3://backups/eu", "s3://backups/us"]);
        assert!(one_bucket.targets_sharing_storage().is_some(), "one bucket");
        let apart = with_targets(&["s3://backups-eu/x", "s3://backups-us/x"]);
        assert_eq!(apart.targets_sharing_storage(), None);
        let mixed = with_targets(&[&a, "s3://backups-eu/x"]);
        assert_eq!(mixed.targets_sharing_storage(), None);
    }
}
