//! The live checks of the controls map (`live = "…"` in security/controls.toml): what a running endpoint does, probed
//! from outside over the network, as a client would meet it. The running server probes its own listener (the trust
//! page shows the result) and `comanda controls --live https://host` probes any deployment.
//!
//! - `tls-versions` (TLS-1): a client offering TLS 1.3 and 1.2 gets 1.3; one offering only 1.2 gets 1.2; a TLS 1.1
//!   ClientHello (written by hand: rustls cannot speak 1.1) gets no ServerHello.
//! - `tls-suites` (TLS-3): each negotiated suite is an AEAD with an ephemeral (EC)DHE key exchange.
//! - `hsts-header` (TLS-2): `GET /healthz` carries `Strict-Transport-Security: max-age=31536000; includeSubDomains;
//!   preload`.
//!
//! The probe judges what the endpoint offers, not who it is: the certificate is not verified (the embedded
//! default's self-signed one must be checkable too), while the handshake's signatures still are.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CipherSuite, ClientConfig, DigitallySignedStruct, ProtocolVersion, SignatureScheme,
    SupportedProtocolVersion,
};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The header TLS-2 promises, exactly.
pub const HSTS: &str = "max-age=31536000; includeSubDomains; preload";

const PATIENCE: Duration = Duration::from_secs(10);

/// One live check's outcome: what was seen, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCheck {
    /// The map's name for it (`tls-versions`, `tls-suites`, `hsts-header`).
    pub name: &'static str,
    pub passed: bool,
    pub observed: String,
}

/// Every live check against one endpoint, and when they ran.
#[derive(Debug, Clone)]
pub struct LiveReport {
    pub endpoint: String,
    pub checked_at: OffsetDateTime,
    pub checks: Vec<LiveCheck>,
}

impl LiveReport {
    pub fn check(&self, name: &str) -> Option<&LiveCheck> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Probes `addr`, naming `host` in SNI and in the `Host` header.
pub async fn run(addr: SocketAddr, host: &str, now: OffsetDateTime) -> LiveReport {
    let modern = handshake(
        addr,
        host,
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        true,
    )
    .await;
    let legacy = handshake(addr, host, &[&rustls::version::TLS12], false).await;
    let old = tls11_refused(addr).await;
    let seen = |outcome: &Result<Handshake, String>| match outcome {
        Ok(h) => format!("{:?} with {:?}", h.version, h.suite),
        Err(error) => format!("failed ({error})"),
    };
    let versions_ok = matches!(&modern, Ok(h) if h.version == ProtocolVersion::TLSv1_3)
        && matches!(&legacy, Ok(h) if h.version == ProtocolVersion::TLSv1_2)
        && old.is_ok();
    let suites_ok = [&modern, &legacy]
        .iter()
        .all(|outcome| matches!(outcome, Ok(h) if forward_secret_aead(h.suite)));
    let hsts = match &modern {
        Ok(Handshake {
            hsts: Some(value), ..
        }) => value.clone(),
        Ok(_) => "no Strict-Transport-Security header".to_owned(),
        Err(error) => format!("no answer ({error})"),
    };
    LiveReport {
        endpoint: format!("{host} ({addr})"),
        checked_at: now,
        checks: vec![
            LiveCheck {
                name: "tls-versions",
                passed: versions_ok,
                observed: format!(
                    "offering 1.3 and 1.2: {}; offering 1.2 only: {}; a TLS 1.1 hello: {}",
                    seen(&modern),
                    seen(&legacy),
                    match &old {
                        Ok(answer) => answer.clone(),
                        Err(answer) => format!("accepted ({answer})"),
                    }
                ),
            },
            LiveCheck {
                name: "tls-suites",
                passed: suites_ok,
                observed: format!("negotiated {} and {}", seen(&modern), seen(&legacy)),
            },
            LiveCheck {
                name: "hsts-header",
                passed: hsts == HSTS,
                observed: format!("GET /healthz: {hsts}"),
            },
        ],
    }
}

/// An AEAD suite with an ephemeral key exchange: every TLS 1.3 suite, and the TLS 1.2 ECDHE suites with GCM or
/// ChaCha20-Poly1305 (RFC 8446 §9.1; Mozilla's "intermediate" list).
fn forward_secret_aead(suite: CipherSuite) -> bool {
    let name = format!("{suite:?}");
    name.starts_with("TLS13_")
        || (name.starts_with("TLS_ECDHE_") && (name.contains("_GCM_") || name.contains("CHACHA20_POLY1305")))
}

struct Handshake {
    version: ProtocolVersion,
    suite: CipherSuite,
    hsts: Option<String>,
}

async fn handshake(
    addr: SocketAddr,
    host: &str,
    versions: &[&'static SupportedProtocolVersion],
    read_hsts: bool,
) -> Result<Handshake, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let tcp = within(TcpStream::connect(addr)).await?;
    let mut tls = within(TlsConnector::from(Arc::new(config)).connect(name, tcp)).await?;
    let (version, suite) = {
        let (_, connection) = tls.get_ref();
        (
            connection.protocol_version().ok_or("no protocol version")?,
            connection
                .negotiated_cipher_suite()
                .ok_or("no cipher suite")?
                .suite(),
        )
    };
    let mut hsts = None;
    if read_hsts {
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        within(tls.write_all(request.as_bytes())).await?;
        let mut answer = Vec::new();
        within((&mut tls).take(64 * 1024).read_to_end(&mut answer)).await?;
        let text = String::from_utf8_lossy(&answer);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        hsts = head.lines().skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field
                .trim()
                .eq_ignore_ascii_case("strict-transport-security")
                .then(|| value.trim().to_owned())
        });
    }
    Ok(Handshake { version, suite, hsts })
}

/// Sends a TLS 1.1 ClientHello (RFC 4346 §7.4.1.2, CBC suites only, no extensions) and reads the first record back:
/// `Ok` with what came back when it is not a ServerHello (an alert, or the connection closed), `Err` when the
/// endpoint answered with a handshake.
async fn tls11_refused(addr: SocketAddr) -> Result<String, String> {
    let mut body = vec![0x03, 0x02];
    body.extend_from_slice(&[0x2a; 32]);
    body.push(0); // no session id
    let suites: [u16; 4] = [0xc013, 0xc014, 0x002f, 0x0035];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for suite in suites {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // null compression only
    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    let Ok(mut tcp) = within(TcpStream::connect(addr)).await else {
        return Ok("no connection".into());
    };
    if within(tcp.write_all(&record)).await.is_err() {
        return Ok("connection closed".into());
    }
    let mut first = [0u8; 7];
    match within(tcp.read(&mut first)).await {
        Ok(0) | Err(_) => Ok("connection closed".into()),
        Ok(_) if first[0] == 0x15 => Ok(match first[6] {
            40 => "alert handshake_failure".to_owned(),
            70 => "alert protocol_version".to_owned(),
            other => format!("alert {other}"),
        }),
        Ok(_) if first[0] == 0x16 => Err("a handshake answered it".into()),
        Ok(_) => Ok(format!("record type {}", first[0])),
    }
}

async fn within<T, E: std::fmt::Display>(future: impl Future<Output = Result<T, E>>) -> Result<T, String> {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ephemeral_aead_suites_count() {
        assert!(forward_secret_aead(CipherSuite::TLS13_AES_128_GCM_SHA256));
        assert!(forward_secret_aead(
            CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        ));
        assert!(!forward_secret_aead(CipherSuite::TLS_RSA_WITH_AES_128_GCM_SHA256));
        assert!(!forward_secret_aead(
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
        ));
    }
}
