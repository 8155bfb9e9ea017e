//! `comanda controls`: the map from every security promise to the tests that prove it (security/controls.toml),
//! embedded in the binary so an operator can read what a given build proves.

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
    fn label(self) -> &'static str {
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

/// One line per promise, then a summary. A promise the running configuration does not keep (`broken`: the
/// control and why) is shown as FAILING, whatever its tests prove.
pub fn render(map: &ControlsMap, broken: &[(&str, String)]) -> String {
    let mut out = String::new();
    for control in &map.control {
        let failing: Vec<&String> = broken
            .iter()
            .filter(|(id, _)| *id == control.id)
            .map(|(_, why)| why)
            .collect();
        let status = if failing.is_empty() {
            control.status.label()
        } else {
            "FAILING"
        };
        out.push_str(&format!(
            "{:<8} {:<8} {} test(s)",
            control.id,
            status,
            control.tests.len()
        ));
        if control.status == Status::Partial && !control.clauses.is_empty() {
            out.push_str(&format!(
                ", {} of {} clause(s) open",
                control.open_clauses(),
                control.clauses.len()
            ));
        }
        for why in &failing {
            out.push_str(&format!(", not kept by this configuration: {why}"));
        }
        if let Some(live) = &control.live {
            out.push_str(&format!(", live check {live}"));
        }
        if let Some(note) = &control.note {
            out.push_str(&format!("  {note}"));
        }
        out.push('\n');
        for clause in control.clauses.iter().filter(|c| c.is_open()) {
            out.push_str(&format!("         open clause: {}", clause.clause));
            if let Some(note) = &clause.note {
                out.push_str(&format!(" ({note})"));
            }
            out.push('\n');
        }
    }
    let count = |status| map.control.iter().filter(|c| c.status == status).count();
    out.push_str(&format!(
        "{} proven, {} partial, {} missing, {} process, of {}\n",
        count(Status::Proven),
        count(Status::Partial),
        count(Status::Missing),
        count(Status::Process),
        map.control.len()
    ));
    let failing: std::collections::BTreeSet<&str> = broken.iter().map(|(id, _)| *id).collect();
    if !failing.is_empty() {
        out.push_str(&format!(
            "FAILING with this configuration: {}\n",
            failing.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .unwrap()
    }

    /// Every test name the tree defines: Rust `fn` names and JavaScript `test('…')` titles.
    fn defined_names(dir: &Path, names: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | "node_modules" | ".git") {
                    defined_names(&path, names);
                }
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if name.ends_with(".rs") {
                for rest in text.split("fn ").skip(1) {
                    let ident: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    names.insert(ident);
                }
            } else if name.ends_with(".mjs") || name.ends_with(".js") {
                for rest in text.split("test(").skip(1) {
                    let rest = rest.trim_start();
                    if let Some(quote) = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')) {
                        names.insert(rest[1..].split(quote).next().unwrap_or("").to_owned());
                    }
                }
            }
        }
    }

    #[test]
    fn controls_map_is_complete_and_names_only_existing_tests() {
        let map = load().expect("security/controls.toml parses");
        let mut names = BTreeSet::new();
        defined_names(&repo_root(), &mut names);
        let mut seen = BTreeSet::new();
        for control in &map.control {
            assert!(seen.insert(control.id.clone()), "{} listed twice", control.id);
            if matches!(control.status, Status::Proven | Status::Partial) {
                assert!(
                    !control.tests.is_empty(),
                    "{} is {:?} but names no test",
                    control.id,
                    control.status
                );
            }
            for test in &control.tests {
                assert!(
                    names.contains(test),
                    "{}: test {test:?} does not exist in the tree",
                    control.id
                );
            }
            // Clause by clause: a proven or partial promise is split into clauses, each proven by named tests that
            // the control lists too, or open (only on a partial control, and then with a note).
            if matches!(control.status, Status::Proven | Status::Partial) {
                assert!(
                    !control.clauses.is_empty(),
                    "{} is {:?} but lists no clauses",
                    control.id,
                    control.status
                );
            }
            for clause in &control.clauses {
                let what = format!("{}: clause {:?}", control.id, clause.clause);
                if clause.open {
                    assert!(
                        control.status == Status::Partial,
                        "{what} is open on a control that is not partial"
                    );
                    assert!(clause.tests.is_empty(), "{what} is open but names tests");
                    assert!(clause.note.is_some(), "{what} is open without a note");
                } else {
                    assert!(!clause.tests.is_empty(), "{what} names no test");
                }
                for test in &clause.tests {
                    assert!(
                        control.tests.contains(test),
                        "{what}: {test:?} is missing from the control's tests"
                    );
                }
            }
            if !control.clauses.is_empty() {
                for test in &control.tests {
                    assert!(
                        control.clauses.iter().any(|c| c.tests.contains(test)),
                        "{}: {test:?} proves none of its clauses",
                        control.id
                    );
                }
            }
            if control.status == Status::Partial && !control.clauses.is_empty() {
                assert!(
                    control.open_clauses() > 0,
                    "{} is partial but every clause is proven",
                    control.id
                );
            }
        }
        // Every promise of the public security page, when the shared promises file is beside the checkout.
        let promises = repo_root().join("../shared/SECURITY-PROMISES.md");
        if let Ok(text) = std::fs::read_to_string(&promises) {
            let ids: BTreeSet<String> = text
                .split("**")
                .filter(|part| {
                    part.split_once('-').is_some_and(|(area, n)| {
                        !area.is_empty()
                            && area.chars().all(|c| c.is_ascii_uppercase())
                            && !n.is_empty()
                            && n.chars().all(|c| c.is_ascii_digit())
                    })
                })
                .map(str::to_owned)
                .collect();
            assert_eq!(
                seen, ids,
                "controls.toml must list exactly the promises of SECURITY-PROMISES.md"
            );
        }
        let shown = render(&map, &[]);
        assert!(shown.contains("proven"));
        for control in map.control.iter().filter(|c| c.status == Status::Partial) {
            assert!(
                shown.contains(&format!(
                    "{} of {} clause(s) open",
                    control.open_clauses(),
                    control.clauses.len()
                )),
                "{}: {shown}",
                control.id
            );
        }
        let broken = [("AUTH-2", "bcrypt cost 10 is below 12".to_owned())];
        let shown = render(&map, &broken);
        assert!(shown.contains("AUTH-2   FAILING"), "{shown}");
        assert!(
            shown.contains("FAILING with this configuration: AUTH-2"),
            "{shown}"
        );
    }
}
