//! Fuzzing on stable Rust, for the workspace's fuzz targets (feature `fuzz`; test code).
//!
//! A target is a function over bytes (or structured input) that must not panic, whatever it
//! is given. [`mutated`] draws an input from a corpus of seeds (the files and requests the
//! tests already use) and applies a few byte-level mutations (bit flips, insertions of
//! bytes or dictionary tokens, deletions, duplications, splices of another seed,
//! truncation); [`run`] feeds a target such inputs for a time budget and, on a panic, lets
//! proptest shrink the mutations to a minimal input before failing with it and the seed.
//!
//! | variable | default | what |
//! |---|---|---|
//! | `TXCLASS_FUZZ_SECS` | `2` | seconds per target (longer local runs: `TXCLASS_FUZZ_SECS=600`) |
//! | `TXCLASS_FUZZ_SEED` | random | the run's seed (printed by every run, so a failure can be replayed) |
//!
//! ## Why proptest, not cargo-fuzz or bolero?
//!
//! cargo-fuzz needs a nightly toolchain (sanitizer flags); bolero's stable mode runs its
//! generators through proptest-like random search anyway and adds three crates. proptest is
//! already in the tree for the property tests, shrinks failures, and with seeds from the
//! real corpus reaches deep into the parsers (a random byte string rarely gets past a CSV
//! header or an XML prolog; a mutated real file does).

use std::time::{Duration, Instant};

use proptest::prelude::*;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseResult, TestRng, TestRunner};

/// One change to an input; positions are taken modulo the input's length.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Flip bit `bit` of the byte at `at`.
    Flip {
        /// Where.
        at: usize,
        /// Which bit (0–7).
        bit: u8,
    },
    /// Insert bytes at `at`.
    Insert {
        /// Where.
        at: usize,
        /// What.
        bytes: Vec<u8>,
    },
    /// Insert dictionary token `token` at `at`.
    Token {
        /// Where.
        at: usize,
        /// Which token (modulo the dictionary's length).
        token: usize,
    },
    /// Delete `len` bytes at `at`.
    Delete {
        /// Where.
        at: usize,
        /// How many.
        len: usize,
    },
    /// Repeat the `len` bytes at `at` `times` times.
    Repeat {
        /// Where.
        at: usize,
        /// How many bytes.
        len: usize,
        /// How many copies.
        times: usize,
    },
    /// Replace everything from `at` on with the tail of seed `seed` from `from`.
    Splice {
        /// Where.
        at: usize,
        /// Which seed (modulo the corpus size).
        seed: usize,
        /// From where in it.
        from: usize,
    },
    /// Cut the input at `at`.
    Truncate {
        /// Where.
        at: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        3 => (any::<usize>(), any::<usize>()).prop_map(|(at, token)| Mutation::Token { at, token }),
        2 => (any::<usize>(), 1usize..16).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (any::<usize>(), 1usize..64, 1usize..64)
            .prop_map(|(at, len, times)| Mutation::Repeat { at, len, times }),
        1 => (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(at, seed, from)| Mutation::Splice { at, seed, from }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

/// Applies `mutations` to `input`, in order.
pub fn apply(
    mut input: Vec<u8>,
    mutations: &[Mutation],
    seeds: &[Vec<u8>],
    dictionary: &[&[u8]],
) -> Vec<u8> {
    for m in mutations {
        let n = input.len();
        let at = |i: usize| if n == 0 { 0 } else { i % (n + 1) };
        match m {
            Mutation::Flip { at: i, bit } if n > 0 => input[i % n] ^= 1 << bit,
            Mutation::Flip { .. } => {}
            Mutation::Insert { at: i, bytes } => {
                let i = at(*i);
                input.splice(i..i, bytes.iter().copied());
            }
            Mutation::Token { at: i, token } if !dictionary.is_empty() => {
                let i = at(*i);
                let t = dictionary[token % dictionary.len()];
                input.splice(i..i, t.iter().copied());
            }
            Mutation::Token { .. } => {}
            Mutation::Delete { at: i, len } => {
                let i = at(*i);
                let end = (i + len).min(n);
                input.drain(i..end);
            }
            Mutation::Repeat { at: i, len, times } => {
                let i = at(*i);
                let end = (i + len).min(n);
                let piece = input[i..end].to_vec();
                for _ in 0..*times {
                    input.splice(end..end, piece.iter().copied());
                }
            }
            Mutation::Splice { at: i, seed, from } if !seeds.is_empty() => {
                let i = at(*i);
                let other = &seeds[seed % seeds.len()];
                let from = if other.is_empty() {
                    0
                } else {
                    from % other.len()
                };
                input.truncate(i);
                input.extend_from_slice(&other[from..]);
            }
            Mutation::Splice { .. } => {}
            Mutation::Truncate { at: i } => {
                let i = at(*i);
                input.truncate(i);
            }
        }
    }
    input
}

/// Inputs drawn from `seeds`, each changed by up to eight [`Mutation`]s (none, sometimes:
/// the seeds themselves are inputs too). `dictionary` holds tokens the format gives meaning
/// to (keywords, delimiters, tags), which random bytes rarely spell.
pub fn mutated(
    seeds: Vec<Vec<u8>>,
    dictionary: &'static [&'static [u8]],
) -> impl Strategy<Value = Vec<u8>> {
    assert!(!seeds.is_empty(), "a fuzz corpus needs a seed");
    let corpus = seeds.clone();
    (0..seeds.len(), proptest::collection::vec(mutation(), 0..8))
        .prop_map(move |(i, ms)| apply(corpus[i].clone(), &ms, &seeds, dictionary))
}

/// The time budget of one target (`TXCLASS_FUZZ_SECS`, default 2 s).
pub fn budget() -> Duration {
    std::env::var("TXCLASS_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(2), Duration::from_secs_f64)
}

/// Runs `test` on inputs from `strategy` until the [`budget`] is spent; returns the number
/// of cases run. A failing case (a panic, or an `Err`) is shrunk and then fails the caller
/// with the minimal input, the target's name and the seed to replay it with.
pub fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> TestCaseResult) -> u64 {
    let seed: u64 = std::env::var("TXCLASS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let budget = budget();
    let started = Instant::now();
    let mut cases = 0u64;
    while cases == 0 || started.elapsed() < budget {
        let tree = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("fuzz {name}: no input: {e}"));
        if let Err(e) = runner.run_one(tree, &test) {
            panic!("fuzz {name} (TXCLASS_FUZZ_SEED={seed}) failed after {cases} cases: {e}");
        }
        cases += 1;
    }
    eprintln!(
        "fuzz {name}: {cases} cases in {:.1} s, 0 failures (TXCLASS_FUZZ_SEED={seed})",
        started.elapsed().as_secs_f64()
    );
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_in_bounds_and_change_the_input() {
        let seeds = vec![b"hello".to_vec(), Vec::new()];
        let ms = [
            Mutation::Flip { at: 99, bit: 0 },
            Mutation::Delete { at: 3, len: 99 },
            Mutation::Token { at: 1, token: 5 },
            Mutation::Repeat {
                at: 0,
                len: 2,
                times: 2,
            },
            Mutation::Splice {
                at: 9,
                seed: 0,
                from: 1,
            },
        ];
        // "hello" → flip byte 4 → "helln" → delete from 3 → "hel" → token at 1 → "h<>el"
        // → repeat "h<" twice → "h<h<h<>el" → splice "ello" at the end.
        let out = apply(seeds[0].clone(), &ms, &seeds, &[b"<>"]);
        assert_eq!(out, b"h<h<h<>elello");
        assert_eq!(
            apply(Vec::new(), &[Mutation::Truncate { at: 5 }], &seeds, &[]),
            b""
        );
    }
}
