//! The map from every promise of the public security page to the tests that prove it (security/controls.toml),
//! embedded in the binary at build time, so what a running build claims is what its own suite proved. `comanda
//! controls` prints it and the trust page (`GET /trust`) renders it, next to the live checks.

use serde::Deserialize;

pub const MAP: &str = include_str!("../../../security/controls.toml");

#[derive(Debug, Deserialize)]
pub struct ControlsMap {
    pub control: Vec<Control>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub id: String,
    pub status: Status,
    #[serde(default)]
    pub tests: Vec<String>,
    pub live: Option<String>,
    pub note: Option<String>,
    /// The promise split into its clauses, each with the tests that prove it (every proven or partial control).
    #[serde(default)]
    pub clauses: Vec<Clause>,
}

/// One clause of a promise and the tests that prove that clause. A clause no test proves yet is `open`, with a
/// note saying what is missing, and only a partial control may have one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    pub clause: String,
    #[serde(default)]
    pub tests: Vec<String>,
    #[serde(default)]
    pub open: bool,
    pub note: Option<String>,
}

impl Clause {
    /// Open: marked so, or proven by no test.
    pub fn is_open(&self) -> bool {
        self.open || self.tests.is_empty()
    }
}

impl Control {
    /// How many of this control's clauses no test proves yet.
    pub fn open_clauses(&self) -> usize {
        self.clauses.iter().filter(|c| c.is_open()).count()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Proven,
    Partial,
    Missing,
    Process,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Proven => "proven",
            Status::Partial => "partial",
            Status::Missing => "missing",
            Status::Process => "process",
        }
    }
}

pub fn load() -> Result<ControlsMap, toml::de::Error> {
    toml::from_str(MAP)
}
