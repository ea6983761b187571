//! What the CLI test files share: running the binary and reading what it wrote.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `txclass` with `args` to its end.
pub fn txclass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_txclass"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// What the run wrote to stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What the run wrote to stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Writes `body` to `dir/name`; its path.
pub fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_owned()
}

/// The records of a CSV file (header skipped).
pub fn csv_rows(path: &str) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|r| r.unwrap()).collect()
}
