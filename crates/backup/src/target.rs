//! Storage targets: every backup goes to each of them through `object_store` (BAK-3). `file:///dir` is a local
//! directory (created 0700); `s3://bucket/prefix` is AWS S3 or any S3-compatible service.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;

use crate::BackupError;
use crate::config::S3Config;

/// A parsed target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    Dir(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl TargetUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text).map_err(|e| format!("{text}: {e}"))?;
        match url.scheme() {
            "file" => url
                .to_file_path()
                .map(TargetUrl::Dir)
                .map_err(|()| format!("{text}: not an absolute local path")),
            "s3" => {
                let bucket = url.host_str().unwrap_or_default().to_owned();
                if bucket.is_empty() {
                    return Err(format!("{text}: names no bucket"));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(format!(
                        "{text}: put credentials in backup.s3, not in the target URL"
                    ));
                }
                Ok(TargetUrl::S3 {
                    bucket,
                    prefix: url.path().trim_matches('/').to_owned(),
                })
            }
            other => Err(format!("{text}: scheme {other}: is not file:// or s3://")),
        }
    }
}

/// One place backups are written to.
#[derive(Debug, Clone)]
pub struct Target {
    /// How the target is shown (its URL; never credentials).
    pub label: String,
    pub store: Arc<dyn ObjectStore>,
}

impl Target {
    /// Opens a target. A `file://` directory is made only when `make_dir` (the default targets inside the data
    /// directory); a configured one must exist: a missing one is what an unmounted disk's mount point looks like,
    /// and making it there would put the "off-machine" copy on the machine's own disk.
    pub fn open(text: &str, s3: &S3Config, make_dir: bool) -> Result<Self, BackupError> {
        let fail = |reason: String| BackupError::Target {
            target: text.to_owned(),
            reason,
        };
        let store: Arc<dyn ObjectStore> = match TargetUrl::parse(text).map_err(fail)? {
            TargetUrl::Dir(dir) => {
                if !make_dir && !dir.is_dir() {
                    return Err(fail(format!(
                        "{} does not exist: mount the disk it is on, or create the directory once",
                        dir.display()
                    )));
                }
                fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| fail(e.to_string()))?;
                Arc::new(LocalFileSystem::new_with_prefix(&dir).map_err(|e| fail(e.to_string()))?)
            }
            TargetUrl::S3 { bucket, prefix } => {
                // reqwest is built without a crypto provider of its own; comanda's is ring.
                let _ = rustls::crypto::ring::default_provider().install_default();
                // A target that does not answer is given a few seconds, not object_store's three minutes per
                // request: at 3 a.m. the other target's copy is the way on (docs/backups.md).
                let retry = object_store::RetryConfig {
                    max_retries: 4,
                    retry_timeout: std::time::Duration::from_secs(30),
                    ..object_store::RetryConfig::default()
                };
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(&s3.region)
                    .with_allow_http(s3.allow_http)
                    .with_retry(retry);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(key) = &s3.access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose());
                }
                let store = builder.build().map_err(|e| fail(e.to_string()))?;
                if prefix.is_empty() {
                    Arc::new(store)
                } else {
                    Arc::new(PrefixStore::new(store, prefix.as_str()))
                }
            }
        };
        Ok(Self {
            label: text.to_owned(),
            store,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_urls_parse() {
        assert_eq!(
            TargetUrl::parse("file:///var/backups/comanda").unwrap(),
            TargetUrl::Dir("/var/backups/comanda".into())
        );
        assert_eq!(
            TargetUrl::parse("s3://bucket/a/b/").unwrap(),
            TargetUrl::S3 {
                bucket: "bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert!(TargetUrl::parse("s3://key:secret@bucket").is_err());
        assert!(TargetUrl::parse("gs://bucket").is_err());
        assert!(TargetUrl::parse("relative/dir").is_err());
    }
}
