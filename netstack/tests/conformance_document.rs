//! Keeps docs/conformance.md honest: every test it cites exists as a `#[test]` function in the file it names, and every requirement row has a status and evidence.
//!
//! A citation is a backticked `path/to/file.rs::function_name`, the path
//! from the repository root. A requirement row is a table row whose first
//! cell is an identifier such as `7915-4.1-a`.

use std::path::{Path, PathBuf};

/// The statuses a row may have (docs/conformance.md "How to read a row").
const STATUSES: [&str; 5] = [
    "done",
    "partly done",
    "deliberately not done",
    "not yet",
    "not applicable",
];

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("netstack sits in the repository")
        .to_path_buf()
}

fn document() -> String {
    let path = repository_root().join("docs/conformance.md");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every backticked span of `text`.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// A citation `path.rs::name`, split, if `span` is one.
fn citation(span: &str) -> Option<(&str, &str)> {
    let (path, name) = span.split_once(".rs::")?;
    let valid_path = !path.is_empty()
        && path
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "/_-.".contains(character));
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_');
    (valid_path && valid_name).then_some((path, name))
}

/// Whether `source` defines `fn name` marked `#[test]` (the attributes and
/// doc comments just above it are searched).
fn defines_test(source: &str, name: &str) -> bool {
    let lines: Vec<&str> = source.lines().collect();
    lines.iter().enumerate().any(|(index, line)| {
        let trimmed = line.trim_start();
        let defines = [format!("fn {name}("), format!("fn {name}<")]
            .iter()
            .any(|prefix| trimmed.starts_with(prefix.as_str()));
        defines
            && lines[..index]
                .iter()
                .rev()
                .map(|line| line.trim())
                .take_while(|line| line.starts_with("#[") || line.starts_with("///"))
                .any(|line| line == "#[test]")
    })
}

/// Whether `cell` is a requirement identifier (`7915-4.1-a`, `6052-2.2-c`).
fn is_requirement_identifier(cell: &str) -> bool {
    let mut parts = cell.split('-');
    let rfc = parts.next().unwrap_or_default();
    rfc.len() == 4 && rfc.chars().all(|character| character.is_ascii_digit()) && parts.count() >= 2
}

/// The cells of a Markdown table row.
fn cells(line: &str) -> Vec<&str> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

fn requirement_rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|line| line.trim_start().starts_with('|'))
        .map(cells)
        .filter(|row| {
            row.first()
                .is_some_and(|cell| is_requirement_identifier(cell))
        })
        .collect()
}

#[test]
fn every_cited_test_exists() {
    let text = document();
    let root = repository_root();
    let mut cited = 0;
    let mut missing = Vec::new();
    for span in backticked(&text) {
        let Some((path, name)) = citation(span) else {
            continue;
        };
        cited += 1;
        let file = root.join(format!("{path}.rs"));
        match std::fs::read_to_string(&file) {
            Ok(source) if defines_test(&source, name) => {}
            Ok(_) => missing.push(format!("{path}.rs: no #[test] fn {name}")),
            Err(error) => missing.push(format!("{path}.rs: {error}")),
        }
    }
    assert!(cited >= 50, "only {cited} citations found: markup changed?");
    assert!(
        missing.is_empty(),
        "cited tests not found:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_row_has_a_status_and_evidence() {
    let text = document();
    let rows = requirement_rows(&text);
    assert!(
        rows.len() >= 60,
        "only {} requirement rows found",
        rows.len()
    );
    let mut identifiers = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for row in &rows {
        let identifier = row[0];
        if !identifiers.insert(identifier) {
            problems.push(format!("{identifier}: identifier used twice"));
        }
        if row.len() != 5 {
            problems.push(format!("{identifier}: {} cells, expected 5", row.len()));
            continue;
        }
        let (requirement, level, status, evidence) = (row[1], row[2], row[3], row[4]);
        if requirement.is_empty() || level.is_empty() {
            problems.push(format!("{identifier}: empty requirement or level"));
        }
        if !STATUSES.contains(&status) {
            problems.push(format!(
                "{identifier}: status {status:?} is not one of {STATUSES:?}"
            ));
        }
        let cites_a_test = backticked(evidence)
            .into_iter()
            .any(|span| citation(span).is_some());
        let says_why = evidence.contains("untested") || evidence.contains("no test");
        if !cites_a_test && !says_why {
            problems.push(format!(
                "{identifier}: evidence neither cites a test nor says why there is none"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_citation_markup_is_recognised() {
    assert_eq!(
        citation("netstack/tests/router_translation.rs::ipv4_to_ipv6_reaches_the_eam_host"),
        Some((
            "netstack/tests/router_translation",
            "ipv4_to_ipv6_reaches_the_eam_host"
        ))
    );
    assert_eq!(citation("Router::hairpin"), None);
    assert_eq!(citation("netstack/src/router/border.rs"), None);
    let source = "#[test]\n/// Docs.\nfn present() {}\nfn helper() {}\n";
    assert!(defines_test(source, "present"));
    assert!(!defines_test(source, "helper"));
    assert!(!defines_test(source, "absent"));
    assert!(is_requirement_identifier("7915-4.1-a"));
    assert!(!is_requirement_identifier("ID"));
    assert!(!is_requirement_identifier("---"));
}
