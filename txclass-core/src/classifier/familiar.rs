//! Familiar lines: whether the model read a line's merchant words in its training rows, and
//! read them meaning the category it now guesses — the key of its uncertainty threshold.
//!
//! One threshold for every line answers a question about a mix: how often the model is
//! right on lines like its calibration rows. A user's statement is not that mix. Most of
//! its lines name merchants the model was trained on, and those it gets right almost
//! always; the rest name merchants it never saw, and those it gets right far less often.
//! A threshold fitted on merchants it never saw (0.96 for the bundled model) flagged more
//! than half the lines of merchants it knows while 99.8 % of them were right; one fitted on
//! merchants it knows would pass the others' errors. So the model keeps a threshold per
//! kind of line ([`Familiarity`]), each fitted on its own kind of calibration row
//! ([`super::Thresholds::uncertain_below`]), and this set says which kind a line is.
//!
//! A line is *familiar* when
//! 1. every merchant word (the featurizer's tokens after the rails) occurred in at least
//!    [`MIN_COUNT`] training rows, or glues with the word beside it into a word that did
//!    (`LOWE S`, the apostrophe of `LOWE'S` printed as a space, is the `LOWES` of the
//!    training rows, though `lowe` and `s` never occurred alone),
//! 2. at most two pairs of adjacent words did not (a pair whose glued word did counts as
//!    read): statements pair a known merchant with places and codes it was never printed
//!    with, but a line of common words in pairs never read (`WALL STREET ENGLISH SCHOOL
//!    LONDON LEEDS`) is a name the model has not seen;
//! 3. and one of its words, pairs or glued words, or the line as a whole, had, in at least
//!    [`PURITY`] of the training rows it occurs in, the main category the model guesses: a
//!    person's name (`DOC ENVIADO JOAO LIMA`) is read in transfers, rents and salaries
//!    alike, and says nothing about which. The whole line counts because banks print fixed
//!    texts whose words all occur in other categories' texts too: `ATM WITHDRAWAL` is cash
//!    every time it is printed whole, while `ATM` and `WITHDRAWAL` also begin `ATM
//!    WITHDRAWAL FEE`. Without it, once the corpus printed fees for withdrawals, 9 % of the
//!    cash lines of the bundled model's known-brand test were flagged instead of 2 %.
//!
//! A line for which rule 3 holds and rule 1 or 2 does not is *anchored*: a word read meaning
//! the guess (`POSTO`, `FARMACIA`, a brand) beside words never read (a new brand, a town the
//! training lines never printed). Any other line is a *stranger*.
//!
//! Glued words stand in for their pairs since the bundled model flagged 46.1 % of the
//! index's 668 brands with an apostrophe printed with a space in its place (`LOWE S`,
//! anchored or strangers) and 7.9 % printed without it (`LOWES`): now 15.4 %, the kept lines
//! 0.970 right instead of 0.961 (`benches/punctuated_brands.sh`, the same model's scores).
//!
//! Measured with the held-out recipe (`scripts/bundled-model.sh held-out`, thresholds for
//! 97 %) on the corpus's brand-, country- and layout-held-out test files of `gen-data --seed
//! 42`: without rule 3 the familiar lines of new layouts were 88 % right (person-to-person
//! lines of a new rail, `DOC ENVIADO …`, taken for rent) and the lines the two thresholds
//! kept 93.8 %, under the target; with it familiar lines are 97.7 / 98.2 / 96.6 % right, and
//! the lines kept 98.5 / 99.2 / 97.6 %, 43.0 / 31.3 / 23.9 % of them. Allowing one unread
//! pair instead of two kept fewer lines (39.0 / 30.3 / 18.9 %); letting one word go unread
//! too fell under the target on new layouts (96.4 %). Anchored lines apart from strangers
//! (87 % of the validation rows of that kind are right, of strangers 60 %, so one threshold
//! for both had to be a stranger's): 53.8 / 61.7 / 68.3 % of the three files flagged instead
//! of 57.0 / 68.7 / 76.1 %, the kept lines 98.5 / 99.2 / 97.5 % right.
//!
//! The set has a second use: a trained model scores a line without the words and pairs
//! that fail rule 1 ([`Familiar::has_read`]; see [`super::features`]), since their hashed
//! buckets hold only other features' weights.
//!
//! The set is a Bloom filter over 64-bit keys (16 bits and 4 probes per key: 0.24 % false
//! positives): each word and pair that passes rule 1, and each that passes rule 3 combined
//! with its category. Written by hand: the model file needs the same bits on every machine
//! from the crate's own stable hash, and a filter of pre-hashed keys is a bit array and
//! four probes; the Bloom crates hash their input themselves, with keys of their own.

use std::collections::{HashMap, HashSet};

use crate::hash::{fnv1a, FNV_PRIME};

/// Training rows a word (or a pair of words) must occur in to be familiar.
pub const MIN_COUNT: u32 = 2;

/// Share of its training rows in which a word or pair must have had one main category to
/// say that category.
pub const PURITY: f64 = 0.9;

/// Bits of the filter per key (rounded up to a power of two).
const BITS_PER_KEY: usize = 16;
/// Probes per key.
const PROBES: u64 = 4;
/// Pairs of adjacent words a familiar line may have that were not read.
const UNSEEN_PAIRS: usize = 2;
const SEED_WORD: u64 = 0x4641_4d49_4c49_0007;
const SEED_MAIN: u64 = 0x4641_4d49_4c49_0008;
const SEED_LINE: u64 = 0x4641_4d49_4c49_0009;

/// The hash of a merchant word, as the set keys it.
pub(crate) fn word_key(word: &[u8]) -> u64 {
    fnv1a(SEED_WORD, word)
}

/// A line's merchant keys ([`word_key`]): its words, in order, then, from a pipeline that
/// glues pairs, the word each pair of adjacent words makes glued (`DIS CHEM` → `dischem`).
/// A glued word counts as a word read in the row (`DIS-CHEM` in training rows makes
/// `DISCHEM` read, meaning what they meant), but is not one of the line's words: a line is
/// not less familiar for the glued words its pairs make, which no statement printed; one
/// that was read stands in for the pair it glues ([`familiarity_by`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LineKeys {
    words: Vec<u64>,
    glued: Vec<u64>,
}

impl LineKeys {
    /// The line's words' keys, in order.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The keys of the glued words, one per pair of adjacent words (none from a pipeline
    /// that does not glue).
    pub fn glued(&self) -> &[u64] {
        &self.glued
    }

    /// What a row of this line reads: the [`keys`] of its words, then its glued words.
    fn read_keys(&self) -> impl Iterator<Item = u64> + '_ {
        keys(self.words()).chain(self.glued().iter().copied())
    }

    /// No words and no glued words.
    pub fn clear(&mut self) {
        self.words.clear();
        self.glued.clear();
    }

    /// Sets the line's words (and no glued words).
    #[cfg(test)]
    pub fn set_words<'a>(&mut self, words: impl Iterator<Item = &'a str>) {
        self.clear();
        self.words.extend(words.map(|w| word_key(w.as_bytes())));
    }

    /// Adds the key of the line's next word.
    pub fn push_word(&mut self, key: u64) {
        self.words.push(key);
    }

    /// Adds the key of a glued word.
    pub fn push_glued(&mut self, key: u64) {
        self.glued.push(key);
    }
}

/// The key of a main category (`groceries`), for [`Counter::add`] and [`Familiar::familiarity`].
pub(crate) fn main_key(main: &str) -> u64 {
    fnv1a(SEED_MAIN, main.as_bytes())
}

/// The key of the pair of adjacent words `a`, `b` (order matters).
fn pair(a: u64, b: u64) -> u64 {
    (a.rotate_left(29) ^ b).wrapping_mul(FNV_PRIME) ^ SEED_WORD
}

/// The key saying that word or pair `key` had main category `main`.
fn meaning(key: u64, main: u64) -> u64 {
    (key.rotate_left(17) ^ main).wrapping_mul(FNV_PRIME)
}

/// The key of a whole line of two words or more.
fn whole(words: &[u64]) -> Option<u64> {
    (words.len() >= 2).then(|| {
        words.iter().fold(SEED_LINE, |h, &w| {
            (h.rotate_left(29) ^ w).wrapping_mul(FNV_PRIME)
        })
    })
}

/// The words and adjacent pairs of a line, and the line as a whole: its keys.
fn keys(words: &[u64]) -> impl Iterator<Item = u64> + '_ {
    words
        .iter()
        .copied()
        .chain(words.windows(2).map(|p| pair(p[0], p[1])))
        .chain(whole(words))
}

/// How well the model knows a line, for the category it guesses: which of its uncertainty
/// thresholds applies ([`super::Thresholds::uncertain_below`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Familiarity {
    /// Neither of the others: a merchant the model never read, or words that meant
    /// something else.
    Stranger,
    /// Rule 3 holds, rules 1 or 2 do not: a word the model read meaning its guess (`POSTO`,
    /// `FARMACIA`, a brand) beside words it never read (a new brand, a town it never printed).
    Anchored,
    /// Rules 1 to 3 hold.
    Familiar,
}

impl Familiarity {
    /// The three kinds, in the order of their index.
    pub const ALL: [Familiarity; 3] = [Self::Stranger, Self::Anchored, Self::Familiar];

    /// `0`, `1`, `2` in the order of [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The familiarity rules over a line's keys and the guessed main category's key, with
/// `read` saying whether a key passes rule 1 and `means` whether it says a category.
///
/// A glued word read stands in for the pair it glues: for both its words in rule 1, for the
/// pair in rule 2, and as one of the line's keys in rule 3. `LOWE S` (the apostrophe of
/// `LOWE'S` printed as a space) is the `LOWES` the training rows read, though `lowe` and `s`
/// were never read alone.
fn familiarity_by(
    line: &LineKeys,
    main: u64,
    read: impl Fn(u64) -> bool,
    means: impl Fn(u64, u64) -> bool,
) -> Familiarity {
    let (words, glued) = (line.words(), line.glued());
    let glued_read = |i: usize| glued.get(i).is_some_and(|&g| read(g));
    if !keys(words)
        .chain(glued.iter().copied())
        .any(|k| means(k, main))
    {
        Familiarity::Stranger
    } else if (0..words.len())
        .all(|i| read(words[i]) || glued_read(i) || (i > 0 && glued_read(i - 1)))
        && (0..words.len().saturating_sub(1))
            .filter(|&i| !read(pair(words[i], words[i + 1])) && !glued_read(i))
            .count()
            <= UNSEEN_PAIRS
    {
        Familiarity::Familiar
    } else {
        Familiarity::Anchored
    }
}

/// A key's training rows, and how many of them had each main category (by [`main_key`]).
type KeyCounts = (u32, Vec<(u64, u32)>);

/// Counts, per word and pair of words, the training rows it occurs in and their main
/// categories.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    /// Rows per key, and per main category of those rows.
    counts: HashMap<u64, KeyCounts>,
    /// The keys that are whole lines: rule 3 asks about them, rules 1 and 2 do not.
    wholes: HashSet<u64>,
    line: Vec<u64>,
}

impl Counter {
    /// Counts one training row's merchant keys (each key once per row) and its main
    /// category's [`main_key`].
    pub fn add(&mut self, line: &LineKeys, main: u64) {
        let words = line.words();
        self.wholes.extend(whole(words));
        self.line.clear();
        self.line.extend(line.read_keys());
        self.line.sort_unstable();
        self.line.dedup();
        for &key in &self.line {
            let (rows, mains) = self.counts.entry(key).or_default();
            *rows += 1;
            match mains.iter_mut().find(|(m, _)| *m == main) {
                Some((_, n)) => *n += 1,
                None => mains.push((main, 1)),
            }
        }
    }

    /// Whether a key of these counts passes rule 1.
    fn read((rows, _): &KeyCounts) -> bool {
        *rows >= MIN_COUNT
    }

    /// The main category a key of these counts says (rule 3), if any.
    fn says((rows, mains): &KeyCounts) -> Option<u64> {
        let &(main, n) = mains.iter().max_by_key(|(_, n)| *n)?;
        (*rows >= MIN_COUNT && f64::from(n) >= PURITY * f64::from(*rows)).then_some(main)
    }

    /// How well a model of the rows counted so far knows `line`, guessed as main category
    /// `main` (exact: no false positives).
    pub fn familiarity(&self, line: &LineKeys, main: u64) -> Familiarity {
        familiarity_by(
            line,
            main,
            |k| self.counts.get(&k).is_some_and(Self::read),
            |k, m| self.counts.get(&k).and_then(Self::says) == Some(m),
        )
    }

    /// The set of what the rows counted so far read (see the module docs).
    pub fn finish(&self) -> Familiar {
        let mut keys = Vec::new();
        for (&key, counts) in &self.counts {
            if Self::read(counts) && !self.wholes.contains(&key) {
                keys.push(key);
            }
            if let Some(main) = Self::says(counts) {
                keys.push(meaning(key, main));
            }
        }
        let log2_bits = (keys.len() * BITS_PER_KEY)
            .max(1 << 10)
            .next_power_of_two()
            .trailing_zeros() as u8;
        let mut set = Familiar {
            log2_bits,
            bits: vec![0; (1usize << log2_bits) / 64],
        };
        keys.into_iter().for_each(|k| set.insert(k));
        set
    }
}

/// The words and pairs of words a model's training rows had, and what they meant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Familiar {
    log2_bits: u8,
    bits: Vec<u64>,
}

impl Familiar {
    /// Largest filter a model file may declare (512 MB).
    const MAX_LOG2_BITS: u8 = 32;

    /// The bits of `key` in a filter of `2^log2_bits` bits.
    fn probes(log2_bits: u8, key: u64) -> impl Iterator<Item = usize> {
        // Two halves of a mixed key, combined (Kirsch and Mitzenmacher): as good as
        // independent hashes for a Bloom filter.
        let h = (key ^ (key >> 31)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        let (a, b) = (h, (h >> 32) | 1);
        let mask = (1u64 << log2_bits) - 1;
        (0..PROBES).map(move |i| (a.wrapping_add(i.wrapping_mul(b)) & mask) as usize)
    }

    fn insert(&mut self, key: u64) {
        for bit in Self::probes(self.log2_bits, key) {
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// Whether every bit of `key` is set. All its bits are read, not up to the first unset
    /// one: the reads do not wait for one another, and no branch has to guess whether a word
    /// was read in training (perf's share of `txclass eval --threads 1` on the benchmark's
    /// `speed.csv` in the set's lookups: 5.6 % → 3.9 %).
    #[inline]
    fn contains(&self, key: u64) -> bool {
        Self::probes(self.log2_bits, key).fold(true, |all, bit| {
            all & (self.bits[bit / 64] & (1 << (bit % 64)) != 0)
        })
    }

    /// Whether the training rows read (rule 1) the merchant word of key `word` ([`word_key`])
    /// or, given the key of the word `before` it, the pair of the two.
    pub fn has_read(&self, before: Option<u64>, word: u64) -> bool {
        self.contains(before.map_or(word, |b| pair(b, word)))
    }

    /// Learns a line a user labelled `main` (a correction): its words and pairs the set did
    /// not have are read from now on, meaning `main`. Words it had keep what they meant (a
    /// city in a corrected line does not come to mean the correction's category).
    pub fn learn(&mut self, line: &LineKeys, main: u64) {
        for key in line.read_keys() {
            if !self.contains(key) {
                self.insert(key);
                self.insert(meaning(key, main));
            }
        }
    }

    /// How well the model knows `line` ([`LineKeys`]), guessed as the main category of key
    /// `main` ([`main_key`]).
    pub fn familiarity(&self, line: &LineKeys, main: u64) -> Familiarity {
        familiarity_by(
            line,
            main,
            |k| self.contains(k),
            |k, m| self.contains(meaning(k, m)),
        )
    }

    /// Appends the set to a model file: `log2(bits)` (`u8`), then the bits as `u64`s.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.log2_bits);
        self.bits
            .iter()
            .for_each(|w| out.extend_from_slice(&w.to_le_bytes()));
    }

    /// Reads what [`write`](Self::write) wrote, from its `log2(bits)` and the bytes after it.
    pub fn read(log2_bits: u8, bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != Self::byte_len(log2_bits)? {
            return Err("familiar-word set: truncated".into());
        }
        let bits = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        Ok(Self { log2_bits, bits })
    }

    /// Bytes of the bit array of a set of `2^log2_bits` bits, if a model may hold one.
    pub fn byte_len(log2_bits: u8) -> Result<usize, String> {
        if (10..=Self::MAX_LOG2_BITS).contains(&log2_bits) {
            Ok((1usize << log2_bits) / 8)
        } else {
            Err(format!("familiar-word set of 2^{log2_bits} bits"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(line: &str) -> Vec<u64> {
        line.split(' ').map(|w| word_key(w.as_bytes())).collect()
    }

    fn line_keys(line: &str) -> LineKeys {
        let mut keys = LineKeys::default();
        keys.set_words(line.split(' '));
        keys
    }

    /// Lines `words: main`.
    fn counted(lines: &[&str]) -> Counter {
        let mut c = Counter::default();
        for l in lines {
            let (words, main) = l.split_once(": ").unwrap();
            c.add(&line_keys(words), main_key(main));
        }
        c
    }

    use Familiarity::{Anchored, Familiar as Known, Stranger};

    #[test]
    fn a_line_is_familiar_when_its_words_were_read_meaning_the_guess() {
        let c = counted(&[
            "lidl london: groceries",
            "lidl leeds: groceries",
            "lidl london: groceries",
            "boots london: health",
            "boots leeds: health",
            "wall street journal: subscriptions",
            "wall street journal: subscriptions",
            "english school: education",
            "english school: education",
            "joao lima: transfers",
            "joao lima: rent",
            "joao lima: income",
        ]);
        let groceries = main_key("groceries");
        assert_eq!(Known, c.familiarity(&line_keys("lidl london"), groceries));
        // One pair never read (`lidl leeds` was read once): still familiar.
        assert_eq!(Known, c.familiarity(&line_keys("lidl leeds"), groceries));
        // The words meant groceries, not health.
        assert_ne!(
            Known,
            c.familiarity(&line_keys("lidl london"), main_key("health"))
        );
        // Every word read twice, but three pairs never: not familiar; two: familiar.
        let school = line_keys("wall street english school london leeds");
        assert_ne!(Known, c.familiarity(&school, main_key("education")));
        let school = line_keys("wall street english school london");
        assert_eq!(Known, c.familiarity(&school, main_key("education")));
        // A word that meant nothing in particular (groceries once, health once), or never read.
        assert_ne!(Known, c.familiarity(&line_keys("leeds"), groceries));
        assert_ne!(Known, c.familiarity(&line_keys("aldi london"), groceries));
        assert_ne!(Known, c.familiarity(&LineKeys::default(), groceries));
        // Read three times, meaning three things: says none of them.
        for main in ["transfers", "rent", "income"] {
            assert_eq!(
                Stranger,
                c.familiarity(&line_keys("joao lima"), main_key(main))
            );
        }
        // A word that meant the guess beside words never read (a new town, a new brand):
        // anchored, whatever the other words; without such a word, a stranger.
        assert_eq!(Anchored, c.familiarity(&line_keys("lidl paris"), groceries));
        assert_eq!(Anchored, c.familiarity(&line_keys("aldi lidl"), groceries));
        assert_eq!(
            Stranger,
            c.familiarity(&line_keys("aldi london"), groceries)
        );
        assert_eq!(
            Stranger,
            c.familiarity(&line_keys("lidl paris"), main_key("health"))
        );
        let school = line_keys("wall street english school london leeds");
        assert_eq!(Anchored, c.familiarity(&school, main_key("education")));
    }

    /// A glued word a row's pairs make is read in that row, meaning its category, so that the
    /// line printed glued is known; it is not one of the line's words.
    #[test]
    fn a_glued_word_is_read_but_is_not_one_of_the_lines_words() {
        let mut c = Counter::default();
        let mut printed = line_keys("dis chem ballito");
        printed.push_glued(word_key(b"dischem"));
        printed.push_glued(word_key(b"chemballito"));
        assert_eq!(printed.words(), hashes("dis chem ballito"));
        c.add(&printed, main_key("health"));
        c.add(&printed, main_key("health"));
        let health = main_key("health");
        assert_eq!(Known, c.familiarity(&line_keys("dischem ballito"), health));
        assert_eq!(Known, c.familiarity(&printed, health));
        let mut set = c.finish();
        assert!(set.has_read(None, word_key(b"dischem")));
        assert_eq!(
            Known,
            set.familiarity(&line_keys("dischem ballito"), health)
        );
        // A correction learns its glued words too.
        let mut corrected = line_keys("dis chem umhlanga");
        corrected.push_glued(word_key(b"chemumhlanga"));
        set.learn(&corrected, health);
        assert!(set.has_read(None, word_key(b"chemumhlanga")));
    }

    /// A line whose pair of words the training rows read only glued (`LOWE S`, the `LOWES`
    /// of the rows) is as familiar as the glued line; words that glue into nothing read
    /// stay unread.
    #[test]
    fn a_glued_word_read_stands_in_for_the_pair_it_glues() {
        let glued = |line: &str| {
            let mut keys = line_keys(line);
            let words: Vec<&str> = line.split(' ').collect();
            for p in words.windows(2) {
                keys.push_glued(word_key(format!("{}{}", p[0], p[1]).as_bytes()));
            }
            keys
        };
        let mut c = Counter::default();
        // The towns are read in groceries too: they say nothing.
        for _ in 0..2 {
            c.add(&glued("lowes austin"), main_key("shopping"));
            c.add(&glued("lowes dallas"), main_key("shopping"));
            c.add(&glued("heb austin"), main_key("groceries"));
            c.add(&glued("heb dallas"), main_key("groceries"));
        }
        let shopping = main_key("shopping");
        let set = c.finish();
        for line in ["lowe s austin", "lowe s dallas"] {
            // Without the glued words, `lowe` and `s` were never read: a stranger.
            assert_eq!(
                Stranger,
                c.familiarity(&line_keys(line), shopping),
                "{line}"
            );
            assert_eq!(Known, c.familiarity(&glued(line), shopping), "{line}");
            assert_eq!(Known, set.familiarity(&glued(line), shopping), "{line}");
            assert_ne!(Known, c.familiarity(&glued(line), main_key("groceries")));
        }
        // `lowe s` beside a town never read: anchored by the glued word, not familiar.
        assert_eq!(Anchored, c.familiarity(&glued("lowe s paris"), shopping));
        // Two words that glue into nothing read stay unread (`low es` would: `lowes`).
        assert_eq!(Known, c.familiarity(&glued("low es austin"), shopping));
        assert_eq!(Stranger, c.familiarity(&glued("lowe x austin"), shopping));
    }

    #[test]
    fn a_fixed_text_says_its_category_though_its_words_say_another_elsewhere() {
        let c = counted(&[
            "atm withdrawal: cash",
            "atm withdrawal: cash",
            "atm withdrawal: cash",
            "atm withdrawal fee: fees",
            "atm withdrawal fee: fees",
            "atm withdrawal fee: fees",
        ]);
        // Every word and pair of `atm withdrawal` was read in fees half the time; the line
        // printed whole never was.
        let atm = line_keys("atm withdrawal");
        assert_eq!(Known, c.familiarity(&atm, main_key("cash")));
        assert_eq!(Stranger, c.familiarity(&atm, main_key("fees")));
        assert_eq!(
            Known,
            c.familiarity(&line_keys("atm withdrawal fee"), main_key("fees"))
        );
        // Part of the text beside words never read says nothing by itself.
        let abroad = line_keys("atm withdrawal lisboa");
        assert_eq!(Stranger, c.familiarity(&abroad, main_key("cash")));
        // And so does the set built from the counts.
        let set = c.finish();
        assert_eq!(Known, set.familiarity(&atm, main_key("cash")));
        assert_eq!(Stranger, set.familiarity(&atm, main_key("fees")));
        // It keeps what a whole line means, not that it was read: rules 1 and 2 ask about
        // words and pairs only.
        let line = whole(atm.words()).unwrap();
        assert!(set.contains(meaning(line, main_key("cash"))));
        assert!(!set.contains(line));
        let atm = atm.words();
        assert!(set.has_read(None, atm[0]) && set.has_read(Some(atm[0]), atm[1]));
    }

    #[test]
    fn the_set_answers_as_the_counts_do_and_survives_a_model_file() {
        let lines: Vec<String> = (0..2000)
            .map(|i| format!("shop{} city{}: main{}", i % 700, i % 13, i % 700 % 5))
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let c = counted(&refs);
        let set = c.finish();
        let mut bytes = Vec::new();
        set.write(&mut bytes);
        assert_eq!(bytes.len(), 1 + Familiar::byte_len(bytes[0]).unwrap());
        let read = Familiar::read(bytes[0], &bytes[1..]).unwrap();
        assert_eq!(read, set);
        let mut false_positives = 0;
        let mut familiar = 0;
        for i in 0..5000 {
            let line = line_keys(&format!("shop{} city{}", i % 1400, i % 20));
            let main = main_key(&format!("main{}", i % 7));
            let (exact, filtered) = (c.familiarity(&line, main), read.familiarity(&line, main));
            // A Bloom filter never forgets a key: it knows a line at least as well as the
            // counts do.
            assert!(filtered >= exact, "line {i}");
            false_positives += usize::from(filtered != exact);
            familiar += usize::from(exact == Known);
        }
        assert!(familiar > 100, "{familiar} familiar lines");
        assert!(false_positives < 50, "{false_positives} false positives");
        assert!(Familiar::read(9, &[]).is_err());
        assert!(Familiar::read(10, &[0; 8]).is_err());
    }
}
