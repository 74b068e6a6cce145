//! `pure6 check` run as a process: the output format and exit status operators and CI rely on.

use std::path::PathBuf;
use std::process::{Command, Output};

fn pure6_check(path: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pure6"))
        .arg("check")
        .arg(path)
        .output()
        .expect("pure6 runs")
}

/// A file in a fresh directory under the target's temporary directory.
fn write_config(name: &str, text: &str) -> PathBuf {
    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_check");
    std::fs::create_dir_all(&directory).expect("temporary directory");
    let path = directory.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn good_file_is_ok() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../qemu/example.toml");
    let output = pure6_check(&path);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout, format!("{}: ok (2 ports)\n", path.display()));
}

#[test]
fn bad_file_reports_line_and_column() {
    let path = write_config(
        "bad.toml",
        "[router]\nname = \"edge\"\n\n[[port]]\nname = \"lan0\"\nlink_local = \"2001:db8::1\"\n",
    );
    let output = pure6_check(&path);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "{}:6:14: link_local 2001:db8::1 is not in fe80::/10 (RFC 4291 §2.5.6)\n",
            path.display()
        )
    );
}

#[test]
fn unknown_key_reports_line_and_column() {
    let path = write_config("typo.toml", "[[port]]\nname = \"lan0\"\nmut = 1500\n");
    let output = pure6_check(&path);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!("{}:3:1: unknown field `mut`", path.display())),
        "{stderr}"
    );
}

#[test]
fn missing_file_fails() {
    let output = pure6_check(std::path::Path::new("/nonexistent/pure6.toml"));
    assert_eq!(output.status.code(), Some(1));
}
