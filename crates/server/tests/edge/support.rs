use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use comanda_server::{Config, Server};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};

pub struct TestServer {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    pub addr: SocketAddr,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        comanda_server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        adjust(&mut config);
        let server = comanda_server::start(&config, Arc::new(comanda_server::SystemClock))
            .await
            .unwrap();
        let addr = server.https_addr;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(client_config(
                &[cert_path(dir.path())],
                &[&rustls::version::TLS13],
            ))
            .build()
            .unwrap();
        Self {
            server: Some(server),
            dir,
            client,
            addr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    pub fn cert_path(&self) -> PathBuf {
        cert_path(self.dir.path())
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }
}

pub fn cert_path(dir: &Path) -> PathBuf {
    dir.join("data").join("tls").join("cert.pem")
}

/// A client that trusts exactly the given PEM certificates and speaks only the given TLS versions; it resolves
/// `localhost` to the test server's loopback address.
pub fn client_config(trusted: &[PathBuf], versions: &[&'static SupportedProtocolVersion]) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    for path in trusted {
        for cert in CertificateDer::pem_file_iter(path).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Asserts a response is a problem document with the status and type slug, and returns its body.
pub async fn expect_problem(response: reqwest::Response, status: u16, slug: &str) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with(PROBLEM_JSON),
        "content type {content_type}"
    );
    assert_eq!(
        response.headers()["strict-transport-security"],
        comanda_server::middleware::HSTS
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("https://comanda.dev/problems/{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status, "{body}");
    assert!(body["title"].is_string(), "{body}");
    body
}
