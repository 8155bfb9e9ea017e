//! TLS through rustls (ring provider): TLS 1.3 and 1.2 only, forward-secret AEAD suites only, and the certificate
//! and key read from files and swapped in place when they change (checked periodically and on SIGHUP), so a renewed
//! certificate is served without a restart or a dropped connection.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, ServerConfig};
use time::OffsetDateTime;
use tokio::sync::watch;

/// The suites offered: every one is an AEAD with an ephemeral (EC)DHE key exchange. TLS 1.3 suites are forward
/// secret by construction; the TLS 1.2 list excludes RSA key transport, CBC and SHA-1 MACs.
pub const ALLOWED_SUITES: [CipherSuite; 9] = [
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: no PEM certificate in the file")]
    NoCertificate { path: PathBuf },
    #[error("{path}: no usable PEM private key in the file ({reason})")]
    BadKey { path: PathBuf, reason: String },
    #[error("the certificate and the private key do not belong together: {0}")]
    Mismatch(String),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("generating the self-signed certificate: {0}")]
    Generate(String),
}

pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .retain(|suite| ALLOWED_SUITES.contains(&suite.suite()));
    Arc::new(provider)
}

/// Loads a certificate chain and its private key, refusing a pair that does not match.
pub fn load_certified_key(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.into(),
            source,
        })
    };
    let cert_pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate {
            path: cert_path.into(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_path.into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::BadKey {
        path: key_path.into(),
        reason: e.to_string(),
    })?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::BadKey {
            path: key_path.into(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    Ok(certified)
}

/// Serves whichever certificate was loaded last; swapping it is atomic and lock-free for handshakes in flight.
#[derive(Debug)]
pub struct ReloadingCertResolver {
    current: ArcSwap<CertifiedKey>,
    cert_path: PathBuf,
    key_path: PathBuf,
    loaded_stamp: std::sync::Mutex<Option<(SystemTime, SystemTime)>>,
}

impl ReloadingCertResolver {
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let key = load_certified_key(cert_path, key_path)?;
        Ok(Self {
            current: ArcSwap::from_pointee(key),
            cert_path: cert_path.into(),
            key_path: key_path.into(),
            loaded_stamp: std::sync::Mutex::new(file_stamp(cert_path, key_path)),
        })
    }

    /// Re-reads both files. A broken pair is refused and the previous certificate keeps being served.
    pub fn reload(&self) -> Result<(), TlsError> {
        let stamp = file_stamp(&self.cert_path, &self.key_path);
        let key = load_certified_key(&self.cert_path, &self.key_path)?;
        self.current.store(Arc::new(key));
        if let Ok(mut loaded) = self.loaded_stamp.lock() {
            *loaded = stamp;
        }
        Ok(())
    }

    /// Reloads when either file's modification time moved since the last load.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let stamp = file_stamp(&self.cert_path, &self.key_path);
        let changed = self
            .loaded_stamp
            .lock()
            .map(|loaded| *loaded != stamp)
            .unwrap_or(true);
        if changed {
            self.reload()?;
        }
        Ok(changed)
    }

    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> TlsError + '_ {
    move |source| TlsError::Read {
        path: path.into(),
        source,
    }
}

fn file_stamp(cert: &Path, key: &Path) -> Option<(SystemTime, SystemTime)> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((modified(cert)?, modified(key)?))
}

impl ResolvesServerCert for ReloadingCertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The server's TLS configuration: TLS 1.3 preferred, TLS 1.2 allowed, nothing older; ALPN h2 and http/1.1.
pub fn server_config(resolver: Arc<ReloadingCertResolver>) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Watches the certificate files and SIGHUP until `stop` fires.
pub fn spawn_reloader(
    resolver: Arc<ReloadingCertResolver>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    // Registered before returning, so a SIGHUP sent right after start is caught rather than ending the process.
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick completes at once: the pair was just loaded, and a change made since (a file written
        // together with a SIGHUP) would otherwise be reported twice, once by this tick and once by the signal.
        ticker.tick().await;
        loop {
            let forced = tokio::select! {
                _ = ticker.tick() => false,
                Some(()) = async { match hangup.as_mut() { Some(s) => s.recv().await, None => None } } => true,
                _ = stop.changed() => return,
            };
            let outcome = if forced {
                resolver.reload().map(|()| true)
            } else {
                resolver.reload_if_changed()
            };
            match outcome {
                Ok(true) => tracing::info!(forced, "TLS certificate reloaded"),
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, "TLS certificate reload refused; still serving the previous one")
                }
            }
        }
    });
}

/// Writes a self-signed certificate for localhost (key file mode 0600), valid for 397 days from `now`.
pub fn write_self_signed(cert_path: &Path, key_path: &Path, now: OffsetDateTime) -> Result<(), TlsError> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(397);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "comanda localhost (self-signed)");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    }
    crate::files::write_private(key_path, key.serialize_pem().as_bytes()).map_err(io_error(key_path))?;
    std::fs::write(cert_path, cert.pem()).map_err(io_error(cert_path))?;
    Ok(())
}

/// Whether a self-signed certificate written at `written` should be replaced (a year on, before it expires).
pub fn self_signed_is_stale(cert_path: &Path, now: SystemTime) -> bool {
    match std::fs::metadata(cert_path).and_then(|m| m.modified()) {
        Ok(written) => now
            .duration_since(written)
            .is_ok_and(|age| age > Duration::from_secs(365 * 24 * 3600)),
        Err(_) => true,
    }
}
