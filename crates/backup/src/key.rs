//! The backup key: an age X25519 identity in its own file, separate from the data keys (BAK-1). The file is in
//! age's own format, so `age -d -i backup.key` opens a backup without comanda. It is created owner-only (0600) and
//! refused when other users can read or write it, as the KMS key file is.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::ExposeSecret;

use crate::BackupError;

fn fail(path: &Path, reason: impl Into<String>) -> BackupError {
    BackupError::Key {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Creates the key file when it is missing (returning true), else checks it. `created` is the file's comment.
pub fn ensure(path: &Path, created: &str) -> Result<bool, BackupError> {
    if path.exists() {
        load(path)?;
        return Ok(false);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| fail(path, e.to_string()))?;
    }
    let identity = age::x25519::Identity::generate();
    let text = format!(
        "# comanda backup key, created {created}. Keep a copy off this machine: without it no backup can be restored.\n\
         # public key: {}\n{}\n",
        identity.to_public(),
        identity.to_string().expose_secret()
    );
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| fail(path, e.to_string()))?;
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| fail(path, e.to_string()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(path, e.to_string()))?;
    Ok(true)
}

/// Reads the identity, refusing a file other users can read or write.
pub fn load(path: &Path) -> Result<age::x25519::Identity, BackupError> {
    let mode = fs::metadata(path)
        .map_err(|e| fail(path, e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(fail(
            path,
            "other users can read or write it; run `chmod 600` on it",
        ));
    }
    let text = fs::read_to_string(path).map_err(|e| fail(path, e.to_string()))?;
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = keys
        .next()
        .ok_or_else(|| fail(path, "holds no AGE-SECRET-KEY-1… line"))?;
    if keys.next().is_some() {
        return Err(fail(path, "holds more than one key"));
    }
    age::x25519::Identity::from_str(line).map_err(|e| fail(path, format!("not an age X25519 identity: {e}")))
}
