//! Word vectors: what English text says a word is near, for merchants the training lines
//! never named.
//!
//! A model learns `lidl` → groceries only from lines that say `LIDL`. A brand it never saw
//! is still a word that news and encyclopaedia text use near other words (`lidl` near
//! `aldi`, `supermarket`, `discounter`); its vector carries that. The featurizer adds the
//! mean vector of a line's merchant words to its text features, so a linear model can place
//! a merchant by what it is near. On the corpus's held-out brands, countries and layouts it
//! is worth 2.2 to 3.4 points of accuracy (`benches/word_vectors_ablation.sh`: the same rows
//! trained with and without it) and costs about half the prediction throughput (a hundred
//! more features per line, each weighted for every label).
//!
//! The table (`data/words.emb`, 35.6 MB, committed) is GloVe 6B at 100 dimensions (PDDL 1.0),
//! 317,730 lower-case ASCII words, quantised to 8 bits per component with one scale per word;
//! `scripts/embeddings-data.py` derives it from a pinned npm package and documents the
//! format. It is read in place (`include_bytes!`, no copy, no parse at start); a lookup
//! hashes the word (the crate's FNV-1a) and searches the sorted hashes from a 16-bit index.
//!
//! Why not a crate: the crates that read word vectors (`finalfusion` and the like) read a
//! table from a file at run time, which a user would have to place beside the binary; this
//! one ships inside it and needs nothing but a lookup.

use std::sync::OnceLock;

use crate::hash::fnv1a;

/// Dimensions of a vector.
pub const DIM: usize = 100;

/// Seed of a word's hash in the table (the derivation script uses the same).
const SEED: u64 = 0x5145_4d42_4435_0005;

static TABLE: &[u8] = include_bytes!("../../data/words.emb");

/// The parsed header of [`TABLE`] and a 16-bit index into its sorted hashes.
struct Table {
    n: usize,
    hashes: &'static [u8],
    scales: &'static [u8],
    values: &'static [u8],
    /// `starts[k]..starts[k + 1]`: the entries whose hash has top 16 bits `k`.
    starts: Vec<u32>,
}

fn table() -> &'static Table {
    static PARSED: OnceLock<Table> = OnceLock::new();
    PARSED.get_or_init(|| {
        assert_eq!(&TABLE[..8], b"TXEMB1\0\0", "words.emb: bad magic");
        let u32_at = |at: usize| u32::from_le_bytes(TABLE[at..at + 4].try_into().expect("4 bytes"));
        let n = u32_at(8) as usize;
        assert_eq!(u32_at(12) as usize, DIM, "words.emb: dimensions");
        let hashes = &TABLE[16..16 + 8 * n];
        let scales = &TABLE[16 + 8 * n..16 + 12 * n];
        let values = &TABLE[16 + 12 * n..];
        assert_eq!(values.len(), n * DIM, "words.emb: truncated");
        let mut starts = vec![0u32; (1 << 16) + 1];
        for i in 0..n {
            starts[(hash_at(hashes, i) >> 48) as usize + 1] += 1;
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        Table {
            n,
            hashes,
            scales,
            values,
            starts,
        }
    })
}

#[inline]
fn hash_at(hashes: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(hashes[8 * i..8 * i + 8].try_into().expect("8 bytes"))
}

/// Number of words in the table.
pub fn len() -> usize {
    table().n
}

/// Where the table holds the word of hash `h` (`fnv1a(SEED, word)`), if it knows the word.
#[inline]
fn find(t: &Table, h: u64) -> Option<usize> {
    let top = (h >> 48) as usize;
    let (from, to) = (t.starts[top] as usize, t.starts[top + 1] as usize);
    (from..to).find(|&i| hash_at(t.hashes, i) == h)
}

/// Adds the vector of `word` (a normalised token: lower-case, accents folded) to `sum` and
/// says whether the table knows the word.
pub fn add(word: &[u8], sum: &mut [f32; DIM]) -> bool {
    add_all(&[word], sum, |_| {}) == 1
}

/// Words looked up together by [`add_all`].
pub(crate) const GROUP: usize = 16;

/// Adds the vectors of `words` that the table knows to `sum`, calls `on_known` with the
/// position of each, and returns how many it knew.
///
/// Why in passes, each only asking for what the next reads: the table (35 MB) is far larger
/// than the processor's cache, so each step of a lookup (its index entry, its hashes, then
/// its vector's two cache lines and scale) waits on memory. Word by word, a line waited for
/// each step of each word in turn. In passes, a group's reads of one step do not depend on
/// one another and run side by side, asked for with prefetches, which (unlike loads) do not
/// hold their place in the processor's queue while they wait (as the text rows' two passes
/// do, [`super::rows`]). With each word found in turn and the vectors' ends read (not
/// prefetched) before any was added, perf put 20 % of the scoring function's samples of
/// `txclass eval --threads 1` on the benchmark's `speed.csv` on the lookups; in passes, 14 %.
#[inline(always)]
pub fn add_all(words: &[&[u8]], sum: &mut [f32; DIM], mut on_known: impl FnMut(usize)) -> usize {
    let t = table();
    let mut known = 0;
    for (g, group) in words.chunks(GROUP).enumerate() {
        let mut hashes = [0u64; GROUP];
        for (h, w) in hashes.iter_mut().zip(group) {
            *h = fnv1a(SEED, w);
            crate::prefetch::read(&t.starts[(*h >> 48) as usize]);
        }
        for &h in &hashes[..group.len()] {
            let from = t.starts[(h >> 48) as usize] as usize;
            crate::prefetch::read(&t.hashes[8 * from.min(t.n.saturating_sub(1))]);
        }
        let mut found = [(0usize, 0usize); GROUP];
        let mut n = 0;
        for (j, &h) in hashes[..group.len()].iter().enumerate() {
            if let Some(i) = find(t, h) {
                found[n] = (g * GROUP + j, i);
                n += 1;
                crate::prefetch::read(&t.scales[4 * i]);
                crate::prefetch::read(&t.values[i * DIM]);
                crate::prefetch::read(&t.values[i * DIM + DIM - 1]);
            }
        }
        for &(at, i) in &found[..n] {
            let scale = f32::from_le_bytes(t.scales[4 * i..4 * i + 4].try_into().expect("4 bytes"));
            for (s, &v) in sum.iter_mut().zip(&t.values[i * DIM..(i + 1) * DIM]) {
                *s += scale * f32::from(v as i8);
            }
            on_known(at);
        }
        known += n;
    }
    known
}

/// The vector of `word`, or `None` when the table does not know it.
pub fn vector(word: &str) -> Option<[f32; DIM]> {
    let mut v = [0.0; DIM];
    add(word.as_bytes(), &mut v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32; DIM], b: &[f32; DIM]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32; DIM]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    }

    #[test]
    fn the_table_knows_brands_and_places_them_near_their_kind() {
        assert!(len() > 300_000, "{}", len());
        let v = |w: &str| vector(w).unwrap_or_else(|| panic!("{w} not in the table"));
        // A supermarket chain is nearer a supermarket than a pharmacy or an airline is.
        let (lidl, supermarket) = (v("lidl"), v("supermarket"));
        assert!(cosine(&lidl, &supermarket) > cosine(&v("lufthansa"), &supermarket));
        assert!(cosine(&v("lufthansa"), &v("airline")) > cosine(&lidl, &v("airline")));
        assert!(vector("xqzzvj").is_none());
        assert!(vector("").is_none());
    }
}
