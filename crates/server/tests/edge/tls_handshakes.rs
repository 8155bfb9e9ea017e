//! Real TLS handshakes against the server: which versions and suites it accepts, and certificate reload.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CipherSuite, ProtocolVersion, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestServer, client_config};

struct Negotiated {
    version: ProtocolVersion,
    suite: CipherSuite,
    leaf: CertificateDer<'static>,
}

async fn handshake(
    addr: SocketAddr,
    trusted: &[std::path::PathBuf],
    versions: &[&'static SupportedProtocolVersion],
) -> std::io::Result<Negotiated> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(trusted, versions)));
    let tcp = TcpStream::connect(addr).await?;
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let (_, session) = tls.get_ref();
    Ok(Negotiated {
        version: session.protocol_version().unwrap(),
        suite: session.negotiated_cipher_suite().unwrap().suite(),
        leaf: session.peer_certificates().unwrap()[0].clone().into_owned(),
    })
}

#[tokio::test]
async fn negotiates_tls_1_3_when_offered() {
    let server = TestServer::start().await;
    let all = [&rustls::version::TLS13, &rustls::version::TLS12];
    let negotiated = handshake(server.addr, &[server.cert_path()], &all).await.unwrap();
    assert_eq!(negotiated.version, ProtocolVersion::TLSv1_3);
    server.stop().await;
}

#[tokio::test]
async fn accepts_tls_1_2_with_forward_secret_aead_suite() {
    let server = TestServer::start().await;
    let negotiated = handshake(server.addr, &[server.cert_path()], &[&rustls::version::TLS12])
        .await
        .unwrap();
    assert_eq!(negotiated.version, ProtocolVersion::TLSv1_2);
    let name = format!("{:?}", negotiated.suite);
    assert!(
        name.starts_with("TLS_ECDHE_") && (name.contains("GCM") || name.contains("CHACHA20")),
        "{name}"
    );
    server.stop().await;
}

/// Builds a raw ClientHello record, so the server can be offered what no modern TLS library will send.
fn client_hello(legacy_version: u16, suites: &[u16]) -> Vec<u8> {
    let mut extensions = Vec::new();
    let mut push_ext = |kind: u16, data: &[u8]| {
        extensions.extend_from_slice(&kind.to_be_bytes());
        extensions.extend_from_slice(&(data.len() as u16).to_be_bytes());
        extensions.extend_from_slice(data);
    };
    let host = b"localhost";
    let mut sni = Vec::new();
    sni.extend_from_slice(&((host.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(host.len() as u16).to_be_bytes());
    sni.extend_from_slice(host);
    push_ext(0x0000, &sni);
    push_ext(0x000a, &[0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]); // groups: x25519, secp256r1
    push_ext(0x000b, &[0x01, 0x00]); // ec_point_formats: uncompressed
    push_ext(0x000d, &[0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]); // signature algorithms

    let mut body = Vec::new();
    body.extend_from_slice(&legacy_version.to_be_bytes());
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for suite in suites {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);

    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// What the server answered a raw ClientHello with.
#[derive(Debug, PartialEq)]
enum Answer {
    ServerHello,
    Alert(u8),
    Closed,
}

async fn offer(addr: SocketAddr, hello: &[u8]) -> Answer {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(hello).await.unwrap();
    let mut header = [0u8; 7];
    match tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_exact(&mut header)).await {
        Ok(Ok(_)) if header[0] == 0x16 => Answer::ServerHello,
        Ok(Ok(_)) if header[0] == 0x15 => Answer::Alert(header[6]),
        _ => Answer::Closed,
    }
}

const ECDHE_ECDSA_AES128_GCM: u16 = 0xc02b;
const ECDHE_RSA_AES128_GCM: u16 = 0xc02f;
const ECDHE_ECDSA_AES128_CBC_SHA: u16 = 0xc009;
const RSA_AES128_GCM: u16 = 0x009c;
const RSA_AES128_CBC_SHA: u16 = 0x002f;
const ALERT_HANDSHAKE_FAILURE: u8 = 40;
const ALERT_PROTOCOL_VERSION: u8 = 70;

#[tokio::test]
async fn rejects_tls_1_1_handshake() {
    let server = TestServer::start().await;
    // The same hello as TLS 1.2 is answered, so the refusal below is about the version alone.
    let as_tls12 = offer(
        server.addr,
        &client_hello(0x0303, &[ECDHE_ECDSA_AES128_GCM, ECDHE_RSA_AES128_GCM]),
    )
    .await;
    assert_eq!(as_tls12, Answer::ServerHello);
    for legacy in [0x0302u16, 0x0301] {
        let answer = offer(
            server.addr,
            &client_hello(legacy, &[ECDHE_ECDSA_AES128_GCM, ECDHE_RSA_AES128_GCM]),
        )
        .await;
        assert_eq!(
            answer,
            Answer::Alert(ALERT_PROTOCOL_VERSION),
            "legacy version {legacy:#06x}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn rejects_suites_without_forward_secrecy_or_aead() {
    let server = TestServer::start().await;
    let answer = offer(
        server.addr,
        &client_hello(
            0x0303,
            &[RSA_AES128_GCM, RSA_AES128_CBC_SHA, ECDHE_ECDSA_AES128_CBC_SHA],
        ),
    )
    .await;
    assert_eq!(answer, Answer::Alert(ALERT_HANDSHAKE_FAILURE));
    server.stop().await;
}

#[test]
fn offered_suites_are_all_forward_secret_aead() {
    for suite in &comanda_server::tls::provider().cipher_suites {
        let name = format!("{:?}", suite.suite());
        let tls13 = name.starts_with("TLS13_");
        let fs_aead =
            name.starts_with("TLS_ECDHE_") && (name.contains("_GCM_") || name.contains("CHACHA20_POLY1305"));
        assert!(tls13 || fs_aead, "{name} is offered");
    }
}

#[tokio::test]
async fn certificate_reloads_without_restart_and_keeps_serving_on_a_bad_file() {
    let server = TestServer::start().await;
    let (cert, key) = (server.cert_path(), server.dir.path().join("data/tls/key.pem"));
    let old_copy = server.dir.path().join("old-cert.pem");
    std::fs::copy(&cert, &old_copy).unwrap();
    let versions = [&rustls::version::TLS13];
    let before = handshake(server.addr, std::slice::from_ref(&old_copy), &versions)
        .await
        .unwrap()
        .leaf;

    let now = comanda_domain::Clock::now(&comanda_server::SystemClock);
    comanda_server::tls::write_self_signed(&cert, &key, now).unwrap();
    assert!(
        server.server().cert_resolver.reload_if_changed().unwrap(),
        "the change is noticed"
    );
    let after = handshake(server.addr, &[old_copy.clone(), cert.clone()], &versions)
        .await
        .unwrap()
        .leaf;
    assert_ne!(before, after, "new connections get the new certificate");
    assert_eq!(
        after.as_ref(),
        CertificateDer::from_pem_file_der(&cert).as_slice()
    );

    let new_copy = server.dir.path().join("new-cert.pem");
    std::fs::copy(&cert, &new_copy).unwrap();
    std::fs::write(&cert, "not a certificate").unwrap();
    assert!(server.server().cert_resolver.reload().is_err());
    let still = handshake(server.addr, &[old_copy, new_copy], &versions)
        .await
        .unwrap()
        .leaf;
    assert_eq!(still, after, "a broken file never replaces a working certificate");
    server.stop().await;
}

trait PemDer {
    fn from_pem_file_der(path: &std::path::Path) -> Vec<u8>;
}

impl PemDer for CertificateDer<'_> {
    fn from_pem_file_der(path: &std::path::Path) -> Vec<u8> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_file(path).unwrap().as_ref().to_vec()
    }
}
