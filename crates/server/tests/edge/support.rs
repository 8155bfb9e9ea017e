use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use comanda_domain::ManualClock;
use comanda_server::{Config, Server};
use comanda_store::DatabaseTarget;
use comanda_store::testing::PgTestDatabase;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};

pub struct TestServer {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    pub addr: SocketAddr,
    /// The server's clock: tests move it instead of sleeping.
    pub clock: ManualClock,
    pub database: DatabaseTarget,
    _postgres: Option<PgTestDatabase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl TestServer {
    /// `YYYY-MM` of the business day now for the tests' venues (America/Bogotá, UTC−5 all year, the day starting at
    /// 05:00): the month the tip ledger files today's tips under (between 00:00 and 10:00 UTC on the 1st it is still
    /// the month before).
    pub fn business_month(&self) -> String {
        let day = (comanda_domain::Clock::now(&self.clock) - time::Duration::hours(10)).date();
        format!("{}-{:02}", day.year(), u8::from(day.month()))
    }

    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(Engine::Sqlite, adjust).await
    }

    /// A server on the given engine with a cheap bcrypt cost (the production default is tested on its own).
    pub async fn start_on(engine: Engine, adjust: impl FnOnce(&mut Config)) -> Self {
        comanda_server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.auth.bcrypt_cost = 4;
        let postgres = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => {
                let db = PgTestDatabase::create().await;
                config.database.url = Some(comanda_security::Secret::new(db.app_url()));
                config.database.migration_url = Some(comanda_security::Secret::new(db.owner_url()));
                Some(db)
            }
        };
        adjust(&mut config);
        let clock = ManualClock::at(comanda_domain::Clock::now(&comanda_server::SystemClock));
        let server = comanda_server::start(&config, Arc::new(clock.clone()))
            .await
            .unwrap();
        let database = match &postgres {
            Some(db) => db.target(),
            None => DatabaseTarget {
                url: format!("sqlite://{}", config.sqlite_path().display()),
                migration_url: None,
                max_connections: 2,
                kms: None,
            },
        };
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
            clock,
            database,
            _postgres: postgres,
        }
    }

    /// A second instance on the same PostgreSQL database and KMS key (as production instances behind one load
    /// balancer would be).
    pub async fn second_instance(&self) -> Self {
        self.second_instance_with(|_| {}).await
    }

    /// Another instance on the same database, its configuration adjusted (e.g. a different bcrypt cost).
    pub async fn second_instance_with(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        comanda_server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        // Instances share the key-encryption key and the platform key it wraps (until that key moves into the
        // database).
        for file in ["data/kms.key", "data/platform.key.wrapped"] {
            std::fs::copy(self.dir.path().join(file), dir.path().join(file)).unwrap();
        }
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.auth.bcrypt_cost = 4;
        config.database.url = Some(comanda_security::Secret::new(self.database.url.clone()));
        config.database.migration_url = self
            .database
            .migration_url
            .clone()
            .map(comanda_security::Secret::new);
        adjust(&mut config);
        let server = comanda_server::start(&config, Arc::new(self.clock.clone()))
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
            clock: self.clock.clone(),
            database: self.database.clone(),
            _postgres: None,
        }
    }

    /// PostgreSQL's superuser (above row-level security), for reading everything a test server stored.
    pub fn superuser_url(&self) -> Option<String> {
        self._postgres.as_ref().map(PgTestDatabase::superuser_url)
    }

    /// A second connection to the server's database, for reading what it stored.
    pub async fn store(&self) -> Arc<dyn comanda_store::Store> {
        // The server's own KMS (its key file), so sealed fields open as they do for the server.
        let kms =
            comanda_security::kms::LocalKeyKms::open(&self.dir.path().join("data").join("kms.key")).unwrap();
        comanda_store::connect(&DatabaseTarget {
            kms: Some(Arc::new(kms)),
            ..self.database.clone()
        })
        .await
        .unwrap()
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
    // API.md: type, title, status and detail, always.
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    body
}

/// The `Retry-After` of a 429, in seconds.
pub fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}
