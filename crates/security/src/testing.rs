//! Test support (feature `test-support`): a throwaway SoftHSM2 token for tests of the PKCS#11 KMS.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once, in `C_Initialize`, and a process initialises a PKCS#11 library only once;
//! setting the variable from a test is `unsafe` (other threads read the environment) and would give every test in
//! the binary the same token. So [`SoftHsm::run_isolated`] runs each test body in a child process of its own: the
//! parent makes a temporary token directory, a `softhsm2.conf` naming it and a token (`softhsm2-util
//! --init-token`), then starts the same test binary filtered to that one test with `SOFTHSM2_CONF` set from the
//! start, and checks that it ran and passed. Tests stay parallel and never see each other's keys; root or not.
//!
//! The module is found at `COMANDA_SOFTHSM_MODULE` when set, else at the usual Debian, Fedora, Homebrew and
//! /usr/local paths; `softhsm2-util` on `PATH`. `scripts/install-deps.sh` installs Debian's `softhsm2`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Secret;
use crate::kms::{KekMechanism, Pkcs11Settings};

const CHILD: &str = "COMANDA_SOFTHSM_CHILD";
const MODULE: &str = "COMANDA_SOFTHSM_MODULE";
const TOKEN: &str = "COMANDA_SOFTHSM_TOKEN";
const PIN: &str = "COMANDA_SOFTHSM_PIN";
const CONF: &str = "SOFTHSM2_CONF";

const CANDIDATES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
];

/// A SoftHSM2 token: where the module is, its label and user PIN.
#[derive(Debug)]
pub struct SoftHsm {
    pub module: PathBuf,
    pub token_label: String,
    pub pin: String,
    /// The `softhsm2.conf` of the token directory.
    pub conf: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl SoftHsm {
    /// The SoftHSM2 module of this machine.
    pub fn module_path() -> Result<PathBuf, String> {
        if let Some(path) = std::env::var_os(MODULE) {
            return Ok(PathBuf::from(path));
        }
        CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or_else(|| {
                "SoftHSM2 is not installed (Debian: apt-get install softhsm2, or run scripts/install-deps.sh); \
                 or point COMANDA_SOFTHSM_MODULE at libsofthsm2.so"
                    .to_owned()
            })
    }

    /// A new token in a new temporary directory. Only a process started with its `conf` as `SOFTHSM2_CONF` sees it.
    pub fn create(token_label: &str) -> Result<Self, String> {
        let module = Self::module_path()?;
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).map_err(|e| format!("token directory: {e}"))?;
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .map_err(|e| format!("softhsm2.conf: {e}"))?;
        let pin = "4711-user".to_owned();
        let output = Command::new("softhsm2-util")
            .env(CONF, &conf)
            .args(["--init-token", "--free", "--label", token_label])
            .args(["--so-pin", "0815-officer", "--pin", &pin])
            .output()
            .map_err(|e| {
                format!("softhsm2-util: {e} (install SoftHSM2: apt-get install softhsm2, or scripts/install-deps.sh)")
            })?;
        if !output.status.success() {
            return Err(format!(
                "softhsm2-util --init-token failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(Self {
            module,
            token_label: token_label.to_owned(),
            pin,
            conf,
            _dir: Some(dir),
        })
    }

    /// Settings for a [`crate::kms::Pkcs11Kms`] on this token.
    pub fn settings(&self, key_label: &str, mechanism: KekMechanism) -> Pkcs11Settings {
        Pkcs11Settings {
            module: self.module.clone(),
            token_label: self.token_label.clone(),
            pin: Secret::new(self.pin.clone()),
            key_label: key_label.to_owned(),
            mechanism,
        }
    }

    /// The environment a process needs to use this token (for a child process such as the `comanda` binary).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![(CONF, self.conf.display().to_string())]
    }

    /// Runs `body` with a fresh token in a child process of its own (see the module documentation). `test_name`
    /// is the test's path as the test harness prints it (for a test at the root of an integration test file, its
    /// function name). Panics, with the child's output, when the child fails or did not run the test.
    pub fn run_isolated(test_name: &str, body: impl FnOnce(&SoftHsm)) {
        if std::env::var(CHILD).is_ok_and(|name| name == test_name) {
            let hsm = Self::from_env().unwrap_or_else(|e| panic!("{e}"));
            body(&hsm);
            return;
        }
        let hsm = Self::create("comanda-test").unwrap_or_else(|e| panic!("{e}"));
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("the test binary: {e}"));
        let output = Command::new(exe)
            .args([test_name, "--exact", "--nocapture", "--test-threads", "1"])
            .env(CHILD, test_name)
            .env(CONF, &hsm.conf)
            .env(MODULE, &hsm.module)
            .env(TOKEN, &hsm.token_label)
            .env(PIN, &hsm.pin)
            .output()
            .unwrap_or_else(|e| panic!("starting the test binary: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains(&format!("test {test_name} ... ok")),
            "{test_name} in its own process with SoftHSM2 ({}): {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            hsm.conf.display(),
            output.status,
        );
    }

    fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        Ok(Self {
            module: PathBuf::from(var(MODULE)?),
            token_label: var(TOKEN)?,
            pin: var(PIN)?,
            conf: PathBuf::from(var(CONF)?),
            _dir: None,
        })
    }

    /// The token directory's configuration file.
    pub fn conf(&self) -> &Path {
        &self.conf
    }
}
