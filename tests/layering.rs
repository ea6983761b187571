//! The core's modules import one way (domain → components → orchestrator): no group of
//! modules of `txclass-core/src` imports itself round in a circle. Read from the `crate::`
//! paths of each top-level module's code (doc comments and `#[cfg(test)]` parts left out;
//! the crate root's re-exports, `crate::Error` and the like, count as their module).
//!
//! A new cycle fails this test with the modules in it. A cycle that must be lived with for
//! a while goes on the `KNOWN` list with the reason, and comes off when it is gone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles that exist today, each as its sorted modules (none: keep it so).
const KNOWN: &[&[&str]] = &[];

/// `crate::X` for the crate root's re-exports: which module X is.
fn module_of(name: &str) -> &str {
    match name {
        "Error" | "Result" => "error",
        "Orchestrator" | "Job" | "OrchestratorBuilder" | "Settings" | "PartnerConfig" => {
            "orchestrator"
        }
        "Store" => "store",
        "Progress" => "progress",
        "Classifier" => "classifier",
        "Limiter" | "Permit" => "limiter",
        "CircuitBreaker" => "breaker",
        "PartnerAdapter" => "partner",
        "ResultBus" | "RetryQueue" => "queue",
        n if n.starts_with(char::is_uppercase) => "domain",
        n => n,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("txclass-core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let deps = g.entry(top.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let m = module_of(&name);
                if !name.is_empty() && m != top {
                    deps.insert(m.to_owned());
                }
            }
        }
    }
    g
}

/// Strongly connected groups of more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> T<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on.remove(w);
                    group.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.out.push(group);
                }
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

#[test]
fn the_core_has_no_new_import_cycle() {
    let g = graph();
    assert!(g.len() > 10, "read the core's modules: {:?}", g.keys());
    let found = cycles(&g);
    let known: Vec<Vec<String>> = KNOWN
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    let new: Vec<&Vec<String>> = found.iter().filter(|c| !known.contains(c)).collect();
    let gone: Vec<&Vec<String>> = known.iter().filter(|c| !found.contains(c)).collect();
    let edges: Vec<String> = g
        .iter()
        .map(|(m, d)| format!("{m} -> {}", d.iter().cloned().collect::<Vec<_>>().join(" ")))
        .collect();
    assert!(
        new.is_empty(),
        "modules importing each other round in a circle: {new:?}\n{}",
        edges.join("\n")
    );
    assert!(
        gone.is_empty(),
        "a known cycle is gone: take {gone:?} off the list"
    );
}

#[test]
fn a_cycle_is_found() {
    let mut g = BTreeMap::new();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    g.insert("a".to_owned(), set(&["b"]));
    g.insert("b".to_owned(), set(&["c"]));
    g.insert("c".to_owned(), set(&["a", "d"]));
    g.insert("d".to_owned(), set(&[]));
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
}
