//! The real-brand corpus: statement lines of real merchants of many countries, rendered the
//! way banks and card networks print them, with a test split the model cannot have learnt.
//!
//! ## Where the merchants come from
//!
//! `data/corpus/brands.tsv` holds 14,000 real brands with their countries, derived from
//! [name-suggestion-index](https://github.com/osmlab/name-suggestion-index) (BSD-3-Clause)
//! through `data/corpus/tag-map.tsv`, the one table that maps OpenStreetMap tags
//! (`shop=supermarket`, `amenity=fuel`, …) to our categories; `data/corpus/kinds.tsv` holds
//! the names of those kinds of business in en, pt-BR, es, fr and de from
//! `@openstreetmap/id-tagging-schema` (ISC), which compose local merchants (`BOULANGERIE
//! MOREAU`, `PADARIA SANTOS`). `scripts/corpus-data.py` regenerates both from pinned package
//! versions; `data/corpus/NOTICE.md` keeps their licences. Categories that have no OSM place
//! (subscriptions, airlines, most utilities and telecom operators) add short lists of their
//! own (`data.rs`), and lines without a brand (transfers, income, rent, fees, taxes, cash) are
//! written from per-language templates with people's and companies' names: transfers (from
//! the bank's app or internet banking too), wages and interest (interest in small sums), fees
//! (named for what they are for too: `CASH WITHDRAWAL FEE`, `TARIFA SAQUE`). Half the cash
//! withdrawals name the machine's operator (ATM operators of the index: `CSOB ZELIVSKEHO`,
//! `RETIRO ATM DEUTSCHE BANK MALAGA`), a third of those abroad; a quarter of a phone
//! operator's lines are prepaid top-ups (`PREPAID AIRTIME VODACOM`, `RECARGA CELULAR VIVO`).
//!
//! ## How lines are printed
//!
//! `render.rs`: the 22/25-character merchant field of the card networks and its truncation,
//! city, state or country codes, store numbers, payment-processor prefixes (`SQ *`,
//! `PAYPAL *`, `SUMUP *`, `PAG*`, `MP*`, `IZ *`, `ZTL*`, …), bank-rail prefixes (`COMPRA
//! CARTAO`, `POS`, `CB`, `KARTENZAHLUNG`, `EFTPOS`, `PRLV SEPA`, `DIRECT DEBIT`, PIX, TED, `VIR`,
//! `FASTER PAYMENT`, …), German girocard lines and booking texts (`FOLGELASTSCHRIFT … STROM
//! ABSCHLAG`, `ENTGELTABSCHLUSS`), US banks' ACH entries and card authorisations (`PURCHASE
//! AUTHORIZED ON 03/14 … CARD 5678`), purchases abroad, refunds, mixed case.
//!
//! ## What the test holds out
//!
//! - **Brands.** Every brand (and every composed merchant, person and employer) belongs to
//!   one split by a hash of its name with a fixed salt, *not* the seed: 20 % test, 15 %
//!   validation, 65 % train. Test rows of a brand category only name test brands, so the
//!   test measures brands never seen in training, and models trained from any seed share
//!   the same held-out brands. The generator's own lists of the brands statements name most
//!   (online shops, delivery and ride-hailing apps, health insurers: `data.rs`) always
//!   train where their category also has brands of the index (`brand_split`), and
//!   [`CorpusConfig::listed_share`] of a category's brand rows name a listed brand.
//! - **Countries.** Australia, Portugal, Argentina, Chile, Belgium and Austria (and a
//!   quarter of the other countries of purchases abroad) appear only in test rows; New
//!   Zealand, Colombia, Luxembourg and Switzerland only in validation rows.
//! - **Templates and prefix families.** Each layout, processor prefix, bank-rail prefix and
//!   fixed text of a brandless line is marked in `render.rs`; test-only ones (e.g. `EFTPOS`,
//!   `CHECKCARD`, `IZ *`, `TST*`, neobank title case, `VIREMENT EN VOTRE FAVEUR`,
//!   `INTERAC E-TRANSFER`) never appear in training.
//!
//! Every test row names a merchant, person or employer never seen in training; half of them
//! are otherwise like training rows (the *brand-held-out* split, `test.csv` of
//! `txclass gen-data`), a quarter come from a held-out country (`test_country.csv`) and a
//! quarter are printed with held-out layouts, prefixes or templates (`test_template.csv`).
//!
//! Validation rows follow the same rules with their own brands, countries and templates, so
//! a calibration fitted on them has seen what novelty does to the model's confidence.
//! [`CorpusRow`] says for each row whether its country and its template were held out.

mod data;
mod render;

use std::collections::HashMap;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{pick_weighted, split_sizes, LabelledRow, Split};
use crate::domain::taxonomy::Taxonomy;
use crate::domain::Transaction;
use crate::hash::fnv1a;
use data::{Country, Held, Lang, COUNTRIES};
use render::Place;

pub(crate) type Part = Split;

impl Split {
    /// The held-out mark that only this split may print.
    pub(crate) fn held(self) -> Held {
        match self {
            Split::Train => Held::No,
            Split::Validation => Held::Validation,
            Split::Test => Held::Test,
        }
    }
}

/// The label of the built-in taxonomy equal to `s` (`groceries`, `restaurants/coffee`), as
/// a `'static` string.
fn static_label(s: &str) -> Option<&'static str> {
    static LABELS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    LABELS
        .get_or_init(|| Taxonomy::builtin().labels().into_iter().collect())
        .get(s)
        .map(String::as_str)
}

/// Corpus settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CorpusConfig {
    /// Seed: same seed, same rows (the held-out brands do not depend on it).
    pub seed: u64,
    /// Total rows over the three splits.
    pub rows: usize,
    /// Share of rows in the validation split.
    pub validation_fraction: f64,
    /// Share of rows in the test split.
    pub test_fraction: f64,
    /// Share of brand-category rows written for a composed local merchant instead of a
    /// brand of the index.
    pub composed_share: f64,
    /// Share of brand-category rows bought abroad (merchant of another country).
    pub abroad_share: f64,
    /// Share of brand-category rows that name one of the generator's listed brands (online
    /// shops, delivery and ride-hailing apps, streaming, utilities, telecom, airlines) where
    /// the category has some, besides their share among the other brands.
    pub listed_share: f64,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            rows: 100_000,
            validation_fraction: 0.15,
            test_fraction: 0.2,
            composed_share: 0.3,
            abroad_share: 0.08,
            listed_share: 0.15,
        }
    }
}

/// One row of the corpus and what about it is new to the model.
#[derive(Clone, Debug, PartialEq)]
pub struct CorpusRow {
    /// Its split.
    pub split: Split,
    /// The line, its label and its merchant (`unseen_merchant`: the merchant or
    /// counterparty belongs to a split other than train).
    pub row: LabelledRow,
    /// Lower-case country code of the bank (or of the merchant, for purchases abroad).
    pub country: String,
    /// The statement's language (`pt-BR`, `en`, `es`, `fr`, `de`).
    pub language: &'static str,
    /// The country is never in training rows.
    pub held_country: bool,
    /// The layout, a prefix family or the template is never in training rows.
    pub held_template: bool,
    /// The layout and prefix families the line was printed with.
    pub family: String,
}

/// The split a merchant, person or employer name belongs to: a hash of the upper-cased name
/// with a fixed salt, so that every seed holds out the same ones.
pub(crate) fn name_split(name: &str) -> Split {
    let key: String = name
        .to_uppercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    match fnv1a(0x7478_636c_6173_7321, key.as_bytes()) % 100 {
        0..20 => Split::Test,
        20..35 => Split::Validation,
        _ => Split::Train,
    }
}

/// The split of a brand (or merchant, person, employer): [`name_split`], except that the
/// listed brands of the categories the index also has brands of (online shops and
/// marketplaces, delivery and ride-hailing apps, laboratories, insurers) always train. They are the
/// names statements repeat most, which any model of ours must know; those categories'
/// held-out brands come from the index. (Categories the index has no brands of hold out some
/// of their listed ones, or their test rows would have no brand to name.)
pub(crate) fn brand_split(name: &str) -> Split {
    // Asked for every generated row: a set, not a scan of each category's list.
    static ALWAYS_TRAINED: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    let always_trained = ALWAYS_TRAINED.get_or_init(|| {
        [
            "shopping",
            "restaurants",
            "health",
            "transport",
            "insurance",
        ]
        .iter()
        .flat_map(|c| data::extra_brands(c).iter().copied())
        .collect()
    });
    if always_trained.contains(name) {
        Split::Train
    } else {
        name_split(name)
    }
}

/// What a validation or test row has that training rows do not, besides its merchant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Novelty {
    Merchant,
    Country,
    Template,
}

/// How a category's lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Card purchases at brands.
    Card,
    /// Bills by direct debit, or card purchases, at brands.
    Bill,
    Transfer,
    Income,
    Rent,
    /// Fixed texts (fees, taxes, cash).
    Fixed,
}

struct Spec {
    label: &'static str,
    weight: f64,
    kind: Kind,
    /// Median amount in BRL and log-normal spread.
    median: f64,
    sigma: f64,
    /// Share of round amounts.
    round: f64,
}

/// Share of cash withdrawals whose line names the machine's operator (for a country with
/// operators in the index).
const ATM_OPERATOR_SHARE: f64 = 0.5;
/// Share of those made abroad, at an operator of another country.
const ATM_ABROAD_SHARE: f64 = 0.3;

/// Share of a phone operator's lines that are prepaid top-ups, not bills or card purchases.
const TOP_UP_SHARE: f64 = 0.25;

/// Amounts of interest paid to an account (income lines of an interest template): tens, not
/// a salary's thousands.
const INTEREST: Spec = spec("income", 0.0, Kind::Income, 30.0, 1.2, 0.0);

const SPECS: &[Spec] = &[
    spec("groceries", 12.0, Kind::Card, 120.0, 0.9, 0.05),
    spec("restaurants", 11.0, Kind::Card, 45.0, 0.7, 0.05),
    spec("transport", 7.0, Kind::Card, 25.0, 0.8, 0.08),
    spec("fuel", 5.0, Kind::Card, 180.0, 0.4, 0.3),
    // Rents are often round, but a rent collected with the building's charges is not.
    spec("rent", 2.0, Kind::Rent, 2200.0, 0.4, 0.6),
    spec("utilities", 4.0, Kind::Bill, 180.0, 0.6, 0.03),
    spec("telecom", 3.0, Kind::Bill, 110.0, 0.4, 0.05),
    spec("health", 5.0, Kind::Card, 90.0, 0.9, 0.05),
    spec("education", 2.5, Kind::Card, 700.0, 0.8, 0.15),
    spec("entertainment", 4.0, Kind::Card, 70.0, 0.7, 0.08),
    spec("subscriptions", 5.0, Kind::Bill, 40.0, 0.6, 0.03),
    // Premiums: monthly for health, car and home cover, some yearly.
    spec("insurance", 2.5, Kind::Bill, 220.0, 0.9, 0.05),
    spec("travel", 4.0, Kind::Card, 900.0, 0.9, 0.05),
    spec("shopping", 11.0, Kind::Card, 150.0, 1.0, 0.05),
    spec("transfers", 9.0, Kind::Transfer, 300.0, 1.2, 0.4),
    spec("income", 3.0, Kind::Income, 5500.0, 0.5, 0.25),
    spec("fees", 3.0, Kind::Fixed, 25.0, 0.8, 0.05),
    spec("taxes", 1.5, Kind::Fixed, 600.0, 1.0, 0.1),
    spec("cash", 3.0, Kind::Fixed, 200.0, 0.6, 1.0),
];

const fn spec(
    label: &'static str,
    weight: f64,
    kind: Kind,
    median: f64,
    sigma: f64,
    round: f64,
) -> Spec {
    Spec {
        label,
        weight,
        kind,
        median,
        sigma,
        round,
    }
}

/// The countries a region code of the index stands for.
fn region(code: &str) -> &'static [&'static str] {
    match code {
        "150" => &[
            "pt", "gb", "ie", "es", "fr", "be", "lu", "de", "at", "ch", "cz", "pl", "hu",
        ],
        "eu" => &[
            "pt", "ie", "es", "fr", "be", "lu", "de", "at", "cz", "pl", "hu",
        ],
        "419" => &["br", "mx", "co", "ar", "cl"],
        "019" => &["us", "ca", "mx", "br", "co", "ar", "cl"],
        "021" | "003" => &["us", "ca", "mx"],
        "009" | "053" => &["au", "nz"],
        _ => &[],
    }
}

/// Whether a country code outside [`COUNTRIES`] (a purchase abroad) is held out.
fn abroad_held(code: &str) -> Held {
    match fnv1a(0x6162_726f_6164, code.as_bytes()) % 4 {
        0 => Held::Test,
        1 => Held::Validation,
        _ => Held::No,
    }
}

/// A brand of another country for a row whose novelty is `novelty`: one of a held-out country
/// when the country is what is new, of a country seen in training otherwise (a few tries).
fn pick_abroad<R: Rng>(
    rng: &mut R,
    v: &[(usize, &'static str)],
    novelty: Novelty,
) -> (usize, &'static str) {
    let mut pick = v[rng.gen_range(0..v.len())];
    for _ in 0..20 {
        if (abroad_held(pick.1) != Held::No) == (novelty == Novelty::Country) {
            break;
        }
        pick = v[rng.gen_range(0..v.len())];
    }
    pick
}

fn allowed(held: Held, split: Split) -> bool {
    held == Held::No || held == split.held()
}

struct Merchants {
    /// (category, name, countries) of every brand of every category.
    brands: Vec<(&'static str, &'static str, Vec<&'static str>)>,
    /// The label of each brand (`category/sub` or `category`), indexed like `brands`.
    labels: Vec<&'static str>,
    /// (category, country, split) → brand indices.
    by_place: HashMap<(&'static str, &'static str, Split), Vec<usize>>,
    /// (category, split) → (brand index, country code abroad).
    abroad: HashMap<(&'static str, Split), Vec<(usize, &'static str)>>,
    /// (category, split) → the brands of the generator's own lists ([`data::extra_brands`]).
    listed: HashMap<(&'static str, Split), Vec<usize>>,
    /// Each brand's countries among [`COUNTRIES`], and the other countries it has (where
    /// lines name it as bought abroad), indexed like `brands`.
    homes: Vec<Vec<&'static str>>,
    away: Vec<Vec<&'static str>>,
}

/// The merchant index, built once per process (parsing and indexing 13,800 brands is most of
/// the cost of a small corpus).
fn merchants() -> &'static Merchants {
    static INDEX: std::sync::OnceLock<Merchants> = std::sync::OnceLock::new();
    INDEX.get_or_init(build_merchants)
}

fn build_merchants() -> Merchants {
    let mut labels = Vec::new();
    let mut brands: Vec<(&'static str, &'static str, Vec<&'static str>)> = data::brands()
        .into_iter()
        .map(|b| {
            labels.push(b.label);
            (b.category, b.name, b.countries)
        })
        .collect();
    let mut listed: HashMap<_, Vec<usize>> = HashMap::new();
    for s in SPECS {
        for name in data::extra_brands(s.label) {
            listed
                .entry((s.label, brand_split(name)))
                .or_default()
                .push(brands.len());
            brands.push((s.label, name, vec!["001"]));
            labels.push(data::extra_label(s.label, name).unwrap_or(s.label));
        }
    }
    let mut by_place: HashMap<_, Vec<usize>> = HashMap::new();
    let mut abroad: HashMap<_, Vec<(usize, &'static str)>> = HashMap::new();
    let (mut homes, mut away) = (Vec::new(), Vec::new());
    for (i, (cat, name, countries)) in brands.iter().enumerate() {
        let split = brand_split(name);
        let mut places: Vec<&'static str> = Vec::new();
        let mut elsewhere = Vec::new();
        for &c in countries {
            if c == "001" {
                places.extend(COUNTRIES.iter().map(|k| k.code));
            } else if COUNTRIES.iter().any(|k| k.code == c) {
                places.push(c);
            } else if !region(c).is_empty() {
                places.extend(region(c));
            } else if c.len() == 2 {
                elsewhere.push(c);
                if allowed(abroad_held(c), split) {
                    abroad.entry((*cat, split)).or_default().push((i, c));
                }
            }
        }
        places.sort_unstable();
        places.dedup();
        for &p in &places {
            by_place.entry((*cat, p, split)).or_default().push(i);
        }
        homes.push(places);
        away.push(elsewhere);
    }
    Merchants {
        brands,
        labels,
        by_place,
        abroad,
        listed,
        homes,
        away,
    }
}

fn pick<'a, R: Rng>(rng: &mut R, xs: &[&'a str]) -> &'a str {
    xs[rng.gen_range(0..xs.len())]
}

/// A name drawn by `make` that belongs to `split` (a few tries; the last one is kept).
fn name_in<R: Rng>(rng: &mut R, split: Split, mut make: impl FnMut(&mut R) -> String) -> String {
    named_in(rng, split, |r| (make(r), ())).0
}

/// [`name_in`] for names drawn with something else (a label): `make` gives both.
fn named_in<R: Rng, T>(
    rng: &mut R,
    split: Split,
    mut make: impl FnMut(&mut R) -> (String, T),
) -> (String, T) {
    let mut named = make(rng);
    for _ in 0..60 {
        if name_split(&named.0) == split {
            break;
        }
        named = make(rng);
    }
    named
}

fn person<R: Rng>(rng: &mut R, lang: Lang) -> String {
    let (first, last) = data::names(lang);
    if rng.gen_bool(0.5) {
        format!(
            "{} {} {}",
            pick(rng, first),
            pick(rng, last),
            pick(rng, last)
        )
    } else {
        format!("{} {}", pick(rng, first), pick(rng, last))
    }
}

fn company<R: Rng>(rng: &mut R, lang: Lang) -> String {
    let (first, last) = data::names(lang);
    let base = match rng.gen_range(0..3) {
        0 => format!("{} {}", pick(rng, last), pick(rng, last)),
        1 => format!("{} {}", pick(rng, first), pick(rng, last)),
        _ => pick(rng, last).to_owned(),
    };
    format!("{base} {}", pick(rng, data::company_suffixes(lang)))
}

/// A local merchant named after its kind of business and its owner, with the label its kind
/// teaches.
fn composed<R: Rng>(rng: &mut R, category: &str, lang: Lang) -> Option<(String, &'static str)> {
    let kinds = data::kinds(category, lang);
    if kinds.is_empty() {
        return None;
    }
    let (kind, label) = kinds[rng.gen_range(0..kinds.len())];
    let kind = kind.to_uppercase();
    let (first, last) = data::names(lang);
    let owner = if rng.gen_bool(0.5) {
        pick(rng, last).to_owned()
    } else {
        format!("{} {}", pick(rng, first), pick(rng, last))
    };
    let name = match (lang, rng.gen_range(0..3)) {
        (Lang::En, 0) => format!("{owner}'S {kind}"),
        (Lang::En, _) | (Lang::De, 0) => format!("{owner} {kind}"),
        _ => format!("{kind} {owner}"),
    };
    Some((name, label))
}

fn amount_minor<R: Rng>(rng: &mut R, spec: &Spec, country: &Country) -> i64 {
    // Log-normal via Box-Muller.
    let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let local = spec.median * (spec.sigma * z).exp() * country.per_brl;
    let scale = if country.per_brl > 100.0 {
        1000.0
    } else if country.per_brl > 2.0 {
        10.0
    } else {
        1.0
    };
    let major = if spec.label == "cash" {
        let notes = [20.0, 40.0, 50.0, 60.0, 100.0, 150.0, 200.0, 300.0, 500.0];
        let near = notes
            .iter()
            .copied()
            .min_by(|a, b| {
                ((a * scale) - local)
                    .abs()
                    .total_cmp(&((b * scale) - local).abs())
            })
            .unwrap_or(100.0);
        near * scale
    } else if rng.gen_bool(spec.round) {
        let unit = if local > 500.0 * scale { 50.0 } else { 10.0 } * scale;
        ((local / unit).round().max(1.0)) * unit
    } else {
        local
    };
    // Chilean pesos have no minor unit (ISO 4217): whole pesos only.
    let major = if country.currency == "CLP" {
        major.round().max(1.0)
    } else {
        major
    };
    ((major * 100.0).round() as i64).max(1)
}

fn date<R: Rng>(rng: &mut R, kind: Kind) -> NaiveDate {
    let year = rng.gen_range(2025..=2026);
    let month = rng.gen_range(1..=12);
    let day = match kind {
        Kind::Rent => rng.gen_range(1..=10),
        Kind::Income if rng.gen_bool(0.6) => rng.gen_range(1..=7),
        Kind::Income => rng.gen_range(25..=28),
        Kind::Bill => rng.gen_range(5..=20),
        _ => rng.gen_range(1..=28),
    };
    NaiveDate::from_ymd_opt(year, month, day).expect("valid date")
}

/// A country for a row of `split`: one held out for it when `held` (and there is one).
fn country_for<R: Rng>(rng: &mut R, split: Split, held: bool) -> &'static Country {
    let held_ones: Vec<&Country> = COUNTRIES
        .iter()
        .filter(|c| c.held != Held::No && c.held == split.held())
        .collect();
    let pool: Vec<&Country> = if held && !held_ones.is_empty() {
        held_ones
    } else {
        COUNTRIES.iter().filter(|c| c.held == Held::No).collect()
    };
    let total: f64 = pool.iter().map(|c| c.weight).sum();
    let mut x = rng.gen_range(0.0..total);
    for c in &pool {
        if x < c.weight {
            return c;
        }
        x -= c.weight;
    }
    pool[pool.len() - 1]
}

/// Generates `config.rows` rows split into train, validation and test (see the module docs).
pub fn generate(config: &CorpusConfig) -> crate::Result<Vec<CorpusRow>> {
    let f = |v: f64| (0.0..=1.0).contains(&v);
    if !(f(config.validation_fraction)
        && f(config.test_fraction)
        && config.validation_fraction + config.test_fraction < 1.0
        && f(config.composed_share)
        && f(config.abroad_share)
        && f(config.listed_share))
    {
        return Err(crate::Error::InvalidConfig {
            what: format!("corpus fractions out of range: {config:?}"),
        });
    }
    let m = merchants();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut out = Vec::with_capacity(config.rows);
    for (split, n) in split_sizes(
        config.rows,
        config.validation_fraction,
        config.test_fraction,
    ) {
        for i in 0..n {
            let si = pick_weighted(&mut rng, SPECS, |s| s.weight);
            let spec = &SPECS[si];
            // What is new in a validation or test row besides its merchant: nothing (half of
            // them), its country, or its layout, prefixes and template.
            let novelty = match split {
                Split::Train => Novelty::Merchant,
                _ => match rng.gen_range(0..4) {
                    0 | 1 => Novelty::Merchant,
                    2 => Novelty::Country,
                    _ => Novelty::Template,
                },
            };
            let country = country_for(&mut rng, split, novelty == Novelty::Country);
            // Templates are drawn as for training unless they are what is new.
            let split_templates = if novelty == Novelty::Template {
                split
            } else {
                Split::Train
            };
            let lang = country.lang;
            let mut place = Place {
                country,
                abroad: None,
            };
            let mut held_country = country.held != Held::No;
            let mut incoming = false;
            let (merchant, label, (text, family, held_template)) = match spec.kind {
                Kind::Card | Kind::Bill => {
                    let abroad = m.abroad.get(&(spec.label, split)).filter(|v| !v.is_empty());
                    let local = m.by_place.get(&(spec.label, country.code, split));
                    let listed = m.listed.get(&(spec.label, split)).filter(|v| !v.is_empty());
                    let (name, label) = match (abroad, local) {
                        // The listed brands are the few that most statements name (Amazon,
                        // Uber, iFood, Netflix, the big utilities): `listed_share` of a
                        // category's brand rows name one, not one row in hundreds.
                        _ if listed.is_some() && rng.gen_bool(config.listed_share) => {
                            let v = listed.expect("checked");
                            let b = v[rng.gen_range(0..v.len())];
                            (m.brands[b].1.to_owned(), m.labels[b])
                        }
                        (Some(v), _) if rng.gen_bool(config.abroad_share) => {
                            let (b, code) = pick_abroad(&mut rng, v, novelty);
                            place.abroad = Some(code);
                            held_country = abroad_held(code) != Held::No;
                            (m.brands[b].1.to_owned(), m.labels[b])
                        }
                        (_, Some(v)) if !v.is_empty() && !rng.gen_bool(config.composed_share) => {
                            let b = v[rng.gen_range(0..v.len())];
                            (m.brands[b].1.to_owned(), m.labels[b])
                        }
                        _ => match composed(&mut rng, spec.label, lang) {
                            Some(_) => named_in(&mut rng, split, |r| {
                                composed(r, spec.label, lang).unwrap_or((String::new(), spec.label))
                            }),
                            None => {
                                let v = m
                                    .by_place
                                    .get(&(spec.label, "br", split))
                                    .filter(|v| !v.is_empty())
                                    .ok_or_else(|| crate::Error::InvalidConfig {
                                        what: format!("no merchants for {}", spec.label),
                                    })?;
                                let b = v[rng.gen_range(0..v.len())];
                                (m.brands[b].1.to_owned(), m.labels[b])
                            }
                        },
                    };
                    let rendered =
                        brand_line(&mut rng, spec, split_templates, &name, label, &place);
                    (name, label, rendered)
                }
                Kind::Transfer | Kind::Income | Kind::Rent => {
                    incoming = match spec.kind {
                        Kind::Transfer => rng.gen_bool(0.45),
                        Kind::Income => true,
                        _ => false,
                    };
                    let who = match spec.kind {
                        Kind::Income if rng.gen_bool(0.2) => {
                            // Employers are also brands: a supermarket chain pays wages.
                            let v: Vec<usize> = ["groceries", "shopping", "restaurants"]
                                .iter()
                                .filter_map(|c| m.by_place.get(&(*c, country.code, split)))
                                .flatten()
                                .copied()
                                .collect();
                            if v.is_empty() {
                                name_in(&mut rng, split, |r| company(r, lang))
                            } else {
                                m.brands[v[rng.gen_range(0..v.len())]].1.to_uppercase()
                            }
                        }
                        Kind::Income => name_in(&mut rng, split, |r| company(r, lang)),
                        Kind::Rent if rng.gen_bool(0.1) => name_in(&mut rng, split, |r| {
                            pick(r, data::letting_agents(lang)).to_owned()
                        }),
                        Kind::Rent if rng.gen_bool(0.25) => {
                            name_in(&mut rng, split, |r| company(r, lang))
                        }
                        _ => name_in(&mut rng, split, |r| person(r, lang)),
                    };
                    let r = render::no_brand(
                        &mut rng,
                        split_templates,
                        spec.label,
                        &who,
                        incoming,
                        &place,
                    );
                    (who, spec.label, r)
                }
                Kind::Fixed => {
                    // Cash machines often print their operator (a bank, a network): the
                    // bank's name then means cash, as it does on real statements. Travellers
                    // draw cash abroad more often than they shop there.
                    let local = m
                        .by_place
                        .get(&(spec.label, country.code, split))
                        .filter(|v| !v.is_empty());
                    let abroad = m.abroad.get(&(spec.label, split)).filter(|v| !v.is_empty());
                    let operator = if !rng.gen_bool(ATM_OPERATOR_SHARE) {
                        None
                    } else if let Some(v) = abroad.filter(|_| rng.gen_bool(ATM_ABROAD_SHARE)) {
                        let (b, code) = pick_abroad(&mut rng, v, novelty);
                        place.abroad = Some(code);
                        held_country = abroad_held(code) != Held::No;
                        Some(b)
                    } else {
                        local.map(|v| v[rng.gen_range(0..v.len())])
                    };
                    match operator {
                        Some(b) => {
                            let name = m.brands[b].1;
                            let r = render::atm(&mut rng, split_templates, name, &place);
                            (name.to_owned(), m.labels[b], r)
                        }
                        None => {
                            let r = render::no_brand(
                                &mut rng,
                                split_templates,
                                spec.label,
                                "",
                                false,
                                &place,
                            );
                            (String::new(), spec.label, r)
                        }
                    }
                }
            };
            out.push(finish(
                &mut rng,
                split,
                format!("{}-{i}", split.name()),
                spec,
                Line {
                    merchant,
                    label,
                    text,
                    family,
                    held_template,
                    place,
                    held_country,
                    incoming,
                },
            ));
        }
    }
    Ok(out)
}

/// Lines that bring every brand of the index (and of the generator's lists) to at least
/// `per_brand` rows of `rows`, for a model that should know them all, like the bundled one:
/// a brand is drawn for a row in proportion to its country's share of rows and against the
/// other brands of its category there, so in 200,000 rows a third of the 13,800 brands are
/// never named (a Czech railway, a Colombian supermarket, a bank's cash machines in Prague).
///
/// Each line is printed like a training row (card purchase, bill or cash withdrawal, training
/// layouts) in one of the brand's countries, or bought abroad in one of its other countries.
/// A row's `split` is its brand's: lines of validation brands are for a refit only (the
/// calibration those brands are held out for must not see them). Never for measuring: these
/// rows name test brands.
pub fn brand_lines(config: &CorpusConfig, rows: &[CorpusRow], per_brand: usize) -> Vec<CorpusRow> {
    let m = merchants();
    let mut named: HashMap<&str, usize> = HashMap::new();
    for r in rows {
        *named.entry(r.row.merchant.as_str()).or_default() += 1;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x6272_616e_6473);
    let mut out = Vec::new();
    for (b, &(category, name, _)) in m.brands.iter().enumerate() {
        let split = brand_split(name);
        // Counted as lines are added: a name the index has twice (a telecom operator that is
        // also one of the generator's listed brands) is brought to `per_brand` once.
        let named = named.entry(name).or_default();
        let short = per_brand.saturating_sub(*named);
        let Some(spec) = SPECS.iter().find(|s| s.label == category) else {
            continue;
        };
        if !matches!(spec.kind, Kind::Card | Kind::Bill | Kind::Fixed) {
            continue;
        }
        for _ in 0..short {
            let (country, abroad) = if !m.homes[b].is_empty() {
                let code = pick(&mut rng, &m.homes[b]);
                let country = COUNTRIES
                    .iter()
                    .find(|c| c.code == code)
                    .expect("a country");
                (country, None)
            } else if !m.away[b].is_empty() {
                let code = pick(&mut rng, &m.away[b]);
                (country_for(&mut rng, Split::Train, false), Some(code))
            } else {
                break;
            };
            let place = Place { country, abroad };
            let (text, family, held_template) = match spec.kind {
                Kind::Fixed => render::atm(&mut rng, Split::Train, name, &place),
                _ => brand_line(&mut rng, spec, Split::Train, name, m.labels[b], &place),
            };
            let held_country =
                country.held != Held::No || abroad.is_some_and(|c| abroad_held(c) != Held::No);
            *named += 1;
            let id = format!("brand-{}", out.len() + 1);
            out.push(finish(
                &mut rng,
                split,
                id,
                spec,
                Line {
                    merchant: name.to_owned(),
                    label: m.labels[b],
                    text,
                    family,
                    held_template,
                    place,
                    held_country,
                    incoming: false,
                },
            ));
        }
    }
    out
}

/// A brand's line: a direct debit (for some bills at home) or a card purchase.
fn brand_line<R: Rng>(
    rng: &mut R,
    spec: &Spec,
    templates: Split,
    name: &str,
    label: &str,
    place: &Place<'_>,
) -> (String, String, bool) {
    let as_bill = spec.kind == Kind::Bill
        && place.abroad.is_none()
        && rng.gen_bool(match spec.label {
            "subscriptions" => 0.4,
            // Premiums are collected by direct debit; a few are paid by card.
            "insurance" => 0.85,
            _ => 0.7,
        });
    if spec.label == "telecom" && rng.gen_bool(TOP_UP_SHARE) {
        render::top_up(rng, templates, name, place.country.lang)
    } else if as_bill {
        render::bill(rng, templates, name, label, place.country.lang)
    } else {
        render::card(rng, templates, name, place)
    }
}

/// A line as drawn, before what every row gets alike ([`finish`]).
struct Line {
    merchant: String,
    label: &'static str,
    text: String,
    family: String,
    held_template: bool,
    place: Place<'static>,
    held_country: bool,
    incoming: bool,
}

/// The row of `line`: its amount and date, and what banks add to any line (refunds of card
/// purchases, a masked card number, lower case).
fn finish<R: Rng>(rng: &mut R, split: Split, id: String, spec: &Spec, line: Line) -> CorpusRow {
    let Line {
        merchant,
        label,
        mut text,
        family,
        held_template,
        place,
        held_country,
        incoming,
    } = line;
    let country = place.country;
    let lang = country.lang;
    let amounts = if render::pays_interest(&family) {
        &INTEREST
    } else {
        spec
    };
    let mut amount = amount_minor(rng, amounts, country);
    if !incoming {
        amount = -amount;
    }
    if matches!(spec.kind, Kind::Card) && rng.gen_bool(0.02) {
        amount = -amount;
        let word = match lang {
            Lang::PtBr => "ESTORNO",
            Lang::En => "REFUND",
            Lang::Es => "DEVOLUCION",
            Lang::Fr => "REMBOURSEMENT",
            Lang::De => "GUTSCHRIFT",
        };
        text = format!("{word} {text}");
    }
    if rng.gen_bool(0.05) {
        text = format!("{text} ****{:04}", rng.gen_range(0..10000));
    }
    if rng.gen_bool(0.04) {
        text = text.to_lowercase();
    }
    let unseen = !merchant.is_empty() && brand_split(&merchant) != Split::Train;
    let language = lang.code();
    CorpusRow {
        split,
        row: LabelledRow {
            transaction: Transaction {
                id,
                date: date(rng, spec.kind),
                description: text,
                amount_minor: amount,
                currency: country.currency.to_owned(),
            },
            category: label,
            unseen_merchant: unseen,
            merchant,
        },
        country: place.abroad.unwrap_or(country.code).to_owned(),
        language,
        held_country,
        held_template,
        family: format!("{language}:{family}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn rows(seed: u64) -> Vec<CorpusRow> {
        generate(&CorpusConfig {
            seed,
            rows: 10_000,
            ..CorpusConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn same_seed_same_rows_and_every_category_and_language() {
        let a = rows(1);
        assert_eq!(a, rows(1));
        assert_ne!(a, rows(2));
        let cats: HashSet<&str> = a
            .iter()
            .map(|r| crate::domain::taxonomy::main_of(r.row.category))
            .collect();
        assert_eq!(cats.len(), crate::Category::BUILTIN.len());
        let langs: HashSet<&str> = a.iter().map(|r| r.language).collect();
        assert_eq!(langs.len(), 5);
        let n = |s: Split| a.iter().filter(|r| r.split == s).count();
        assert_eq!(
            (n(Split::Train), n(Split::Validation), n(Split::Test)),
            (6_500, 1_500, 2_000)
        );
    }

    #[test]
    fn brand_lines_bring_every_brand_to_its_share_of_lines() {
        let config = CorpusConfig {
            rows: 2_000,
            ..CorpusConfig::default()
        };
        let a = generate(&config).unwrap();
        let extra = brand_lines(&config, &a, 2);
        assert_eq!(extra, brand_lines(&config, &a, 2), "seeded");
        let m = merchants();
        fn count(rows: &[CorpusRow]) -> HashMap<&str, usize> {
            let mut n: HashMap<&str, usize> = HashMap::new();
            for r in rows {
                *n.entry(r.row.merchant.as_str()).or_default() += 1;
            }
            n
        }
        let (before, added) = (count(&a), count(&extra));
        for (b, (_, name, _)) in m.brands.iter().enumerate() {
            if m.homes[b].is_empty() && m.away[b].is_empty() {
                continue;
            }
            // What was short, no more: a brand the corpus named twice gets no line.
            let had = before.get(name).copied().unwrap_or(0);
            let got = added.get(name).copied().unwrap_or(0);
            assert_eq!(
                got,
                2usize.saturating_sub(had),
                "{name}: {had} lines, {got} added"
            );
        }
        // Each line names its brand, under the brand's label and split.
        let letters = |s: &str| -> String {
            s.to_uppercase()
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect()
        };
        for r in &extra {
            let b = m.brands.iter().position(|b| b.1 == r.row.merchant).unwrap();
            assert_eq!(r.row.category, m.labels[b]);
            assert_eq!(r.split, brand_split(&r.row.merchant));
            let first: String = letters(&r.row.merchant).chars().take(5).collect();
            assert!(
                letters(&r.row.transaction.description).contains(&first),
                "{:?} does not name {}",
                r.row.transaction.description,
                r.row.merchant
            );
        }
        assert!(extra.len() > 20_000, "{}", extra.len());
    }

    #[test]
    fn lines_are_labelled_with_sub_categories_of_the_taxonomy() {
        let a = rows(6);
        let t = Taxonomy::builtin();
        assert!(
            a.iter().all(|r| t.contains(r.row.category)),
            "a label outside the taxonomy"
        );
        let labels: HashSet<&str> = a.iter().map(|r| r.row.category).collect();
        for want in [
            "restaurants/coffee",
            "restaurants/fast_food",
            "restaurants/bars",
            "transport/public_transport",
            "fuel/ev_charging",
            "groceries/supermarket",
            // Brandless lines keep the bare category.
            "transfers",
            "income",
        ] {
            assert!(labels.contains(want), "no {want} line");
        }
        // A composed local merchant is labelled by its kind (`PADARIA SANTOS` is a bakery).
        assert!(a.iter().any(|r| r.row.category == "groceries/bakery"
            && r.row.merchant.to_uppercase().contains("PADARIA")));
        assert!(labels.len() > 50, "{} labels", labels.len());
    }

    #[test]
    fn test_brands_countries_and_templates_never_appear_in_training() {
        let a = rows(3);
        let of = |s: Split| a.iter().filter(move |r| r.split == s);
        let train_merchants: HashSet<&str> = of(Split::Train)
            .map(|r| r.row.merchant.as_str())
            .filter(|m| !m.is_empty())
            .collect();
        let test_merchants: HashSet<&str> = of(Split::Test)
            .map(|r| r.row.merchant.as_str())
            .filter(|m| !m.is_empty())
            .collect();
        assert!(test_merchants.len() > 300, "{}", test_merchants.len());
        assert!(train_merchants.is_disjoint(&test_merchants));
        assert!(of(Split::Train).all(|r| !r.row.unseen_merchant));
        // Another seed holds out the same brands.
        let b = rows(4);
        assert!(b
            .iter()
            .filter(|r| r.split == Split::Train)
            .all(|r| !test_merchants.contains(r.row.merchant.as_str())));
        let train_families: HashSet<&str> = of(Split::Train).map(|r| r.family.as_str()).collect();
        let test_only: Vec<&CorpusRow> = of(Split::Test).filter(|r| r.held_template).collect();
        let n_test = of(Split::Test).count();
        assert!(
            test_only.len() * 7 > n_test,
            "{} of {n_test}",
            test_only.len()
        );
        for r in &test_only {
            assert!(
                !train_families.contains(r.family.as_str()),
                "{:?} {:?}",
                r.family,
                r.row.transaction.description
            );
        }
        let train_countries: HashSet<&str> = of(Split::Train).map(|r| r.country.as_str()).collect();
        let held_countries: Vec<&CorpusRow> = of(Split::Test).filter(|r| r.held_country).collect();
        assert!(held_countries.len() * 5 > n_test);
        assert!(held_countries
            .iter()
            .all(|r| !train_countries.contains(r.country.as_str())));
        assert!(of(Split::Train).all(|r| !r.held_country && !r.held_template));
    }

    #[test]
    fn lines_look_like_statements() {
        let a = rows(5);
        let text: Vec<&str> = a
            .iter()
            .map(|r| r.row.transaction.description.as_str())
            .collect();
        for needle in [
            "PIX",
            "TED",
            "SEPA",
            "VIR ",
            "PRLV",
            "CB ",
            "FASTER PAYMENT",
            "DIRECT DEBIT",
            "POS ",
            "EFTPOS",
            "SQ *",
            "PAYPAL *",
            "SUMUP *",
            "IZ *",
            "PAG*",
            "MP*",
            "ZTL*",
            "KARTENZAHLUNG",
        ] {
            assert!(
                text.iter().any(|t| t.contains(needle)),
                "no line contains {needle:?}"
            );
        }
        assert!(a
            .iter()
            .all(|r| !r.row.transaction.description.trim().is_empty()));
    }

    /// Real statements word fees by what they are for (`CASH WITHDRAWAL FEE`), pay interest in
    /// small sums, sell prepaid top-ups of phone operators and send transfers from the bank's
    /// own app: lines whose words belong to another category's lines (a withdrawal, a salary,
    /// a bank's name) and must be read by the word that decides.
    #[test]
    fn fees_interest_top_ups_and_banking_apps_are_printed() {
        let a = rows(5);
        let of = |label: &str, needle: &str| -> Vec<&CorpusRow> {
            a.iter()
                .filter(|r| {
                    r.row.category.starts_with(label)
                        && r.row
                            .transaction
                            .description
                            .to_uppercase()
                            .contains(needle)
                })
                .collect()
        };
        assert!(!of("fees", "WITHDRAWAL FEE").is_empty());
        assert!(!of("telecom", "TOP").is_empty() || !of("telecom", "AIRTIME").is_empty());
        assert!(!of("telecom", "RECARGA").is_empty());
        assert!(!of("transfers", "BANKING").is_empty());
        assert!(!of("income", "INTEREST").is_empty());
        let any_of = |words: &[&str]| -> Vec<&CorpusRow> {
            words.iter().flat_map(|w| of("income", w)).collect()
        };
        let interest = any_of(&["INTEREST", "ZINS", "RENDIMENTO", "INTERESES", "INTERETS"]);
        // Interest is paid in tens (about 30 BRL's worth), wages in thousands: compared in
        // one currency at a time, in every language's words.
        let median = |rows: &[&CorpusRow], currency: &str| {
            let mut v: Vec<i64> = rows
                .iter()
                .filter(|r| r.row.transaction.currency == currency)
                .map(|r| r.row.transaction.amount_minor)
                .collect();
            v.sort_unstable();
            (v.len() >= 3).then(|| v[v.len() / 2])
        };
        let wages = any_of(&["SALARY", "GEHALT", "SALARIO", "SALAIRE", "NOMINA"]);
        let currencies: HashSet<&str> = interest
            .iter()
            .map(|r| r.row.transaction.currency.as_str())
            .collect();
        let mut compared = 0;
        for c in currencies {
            if let (Some(i), Some(w)) = (median(&interest, c), median(&wages, c)) {
                assert!(i * 20 < w, "{c}: interest {i} vs wages {w}");
                compared += 1;
            }
        }
        assert!(compared > 0);
    }

    /// A US bank's card line: the authorisation's kind and date, the network's line, the
    /// authorisation's reference and the card's last digits
    /// (`PURCHASE AUTHORIZED ON 03/14 SAFEWAY #1234 SAN JOSE CA S584073594451234 CARD 5678`).
    #[test]
    fn us_card_lines_carry_the_authorisation() {
        let a = rows(5);
        let wrapped: Vec<&str> = a
            .iter()
            .map(|r| r.row.transaction.description.as_str())
            .filter(|d| d.to_uppercase().contains("AUTHORIZED ON "))
            .collect();
        assert!(wrapped.len() > 20, "{}", wrapped.len());
        for d in wrapped {
            // A masked card number, as banks add to any line, may follow ([`finish`]).
            let words: Vec<String> = d
                .split(' ')
                .filter(|w| !w.starts_with("****"))
                .map(str::to_uppercase)
                .collect();
            let n = words.len();
            assert_eq!(words[n - 2], "CARD", "{d}");
            assert!(
                words[n - 1].len() == 4 && words[n - 1].parse::<u32>().is_ok(),
                "{d}"
            );
            let reference = &words[n - 3];
            assert!(reference.starts_with('S') && reference.len() == 16, "{d}");
            assert!(reference[1..].parse::<u64>().is_ok(), "{d}");
        }
    }

    /// US banks print an ACH entry as the company, its entry description, the standard entry
    /// class and a ten-digit id (`GEICO PAYMENT PPD ID: 5310227100`): bills, Venmo, payroll.
    #[test]
    fn us_ach_lines_end_with_their_class_and_id() {
        let a = rows(5);
        let ach = |label: &str| -> Vec<&str> {
            a.iter()
                .filter(|r| r.row.category.starts_with(label))
                .map(|r| r.row.transaction.description.as_str())
                .filter(|d| d.contains(" WEB ID: ") || d.contains(" PPD ID: "))
                .collect()
        };
        for label in ["utilities", "telecom", "transfers", "income"] {
            let lines = ach(label);
            assert!(!lines.is_empty(), "{label}");
            for d in lines {
                let id = d.rsplit(": ").next().unwrap().split(' ').next().unwrap();
                assert!(
                    id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit()),
                    "{d}"
                );
            }
        }
        assert!(ach("transfers")
            .iter()
            .any(|d| d.starts_with("VENMO PAYMENT ")));
    }

    /// A terminal often prints a neighbourhood or a shopping centre where the city would be
    /// (`SPAR CRAIGHALL PARK`, `SHOPPING IGUATEMI`): those words follow the merchants of many
    /// categories, so that none of them stands for one.
    #[test]
    fn place_words_follow_merchants_of_many_categories() {
        let a = rows(5);
        for word in ["PARK", "MALL", "SHOPPING", "PLAZA"] {
            let categories: HashSet<&str> = a
                .iter()
                .filter(|r| {
                    r.row
                        .transaction
                        .description
                        .to_uppercase()
                        .split(' ')
                        .any(|w| w == word)
                })
                .map(|r| r.row.category.split('/').next().unwrap())
                .collect();
            assert!(categories.len() >= 6, "{word}: {categories:?}");
        }
    }

    #[test]
    fn cash_lines_often_name_the_machines_operator() {
        let a = rows(5);
        let cash: Vec<&CorpusRow> = a.iter().filter(|r| r.row.category == "cash").collect();
        let named: Vec<&&CorpusRow> = cash.iter().filter(|r| !r.row.merchant.is_empty()).collect();
        let share = named.len() as f64 / cash.len() as f64;
        assert!((0.25..0.6).contains(&share), "{share}");
        for r in named {
            let text = r.row.transaction.description.to_uppercase();
            let first = r.row.merchant.split(' ').next().unwrap().to_uppercase();
            let first: String = first.chars().take(6).collect();
            assert!(
                text.contains(&first) || text.contains(&first.replace(['-', '.', '\'', '&'], "")),
                "{text} does not name {}",
                r.row.merchant
            );
        }
    }
}
