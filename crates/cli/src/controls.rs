//! `comanda controls`: the map from every security promise to the tests that prove it (security/controls.toml),
//! embedded in the binary so an operator can read what a given build proves.

pub use comanda_server::controls::{ControlsMap, Status, load};

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

/// Runs the live checks against the deployment at `url` (`https://host[:port]`, any path ignored) and prints one
/// line each; an error when one fails, so a scheduler or a deploy pipeline sees it.
pub async fn live(url: &str) -> anyhow::Result<()> {
    let (host, port) = endpoint(url)?;
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{host} has no address"))?;
    let now = comanda_domain::Clock::now(&comanda_server::SystemClock);
    let report = comanda_server::live_checks::run(addr, &host, now).await;
    for check in &report.checks {
        crate::out!(
            "live {:<12} {:<6} {}",
            check.name,
            if check.passed { "passed" } else { "FAILED" },
            check.observed
        );
    }
    match report.checks.iter().filter(|c| !c.passed).count() {
        0 => Ok(()),
        failed => anyhow::bail!("{failed} live check(s) failed against {}", report.endpoint),
    }
}

/// The host and port of `https://host[:port][/path]` (a bracketed IPv6 address too).
fn endpoint(url: &str) -> anyhow::Result<(String, u16)> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| anyhow::anyhow!("--live takes an https:// URL, not {url:?}"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (
            host,
            port.parse()
                .map_err(|_| anyhow::anyhow!("{port:?} is not a port"))?,
        ),
        _ => (authority, 443),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    anyhow::ensure!(!host.is_empty(), "{url:?} names no host");
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    #[test]
    fn live_urls_name_a_host_and_a_port() {
        assert_eq!(
            endpoint("https://comanda.example").unwrap(),
            ("comanda.example".into(), 443)
        );
        assert_eq!(
            endpoint("https://localhost:8443/trust").unwrap(),
            ("localhost".into(), 8443)
        );
        assert_eq!(endpoint("https://[::1]:8443").unwrap(), ("::1".into(), 8443));
        assert!(endpoint("http://comanda.example").is_err());
        assert!(endpoint("https://:8443").is_err());
    }

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
