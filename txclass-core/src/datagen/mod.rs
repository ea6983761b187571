//! A seeded generator of realistic labelled bank-statement lines, and its train /
//! validation / test split.
//!
//! Real labelled bank data is private, so models are trained and measured on generated
//! lines that carry the noise real statements have: payment-rail prefixes (`COMPRA CARTAO`,
//! `POS`, `PRLV`, `CB`), card processors (`PAG*`, `IFD*`, `SQ *`, `UBER *TRIP`), truncation,
//! city suffixes, store numbers, dates, masked card numbers, authorisation codes, typos,
//! mixed case and accents, in Brazilian Portuguese (about 70 %) and English lines over the 18
//! built-in categories ([`Category::BUILTIN`](crate::Category::BUILTIN)).
//!
//! ## Merchants and the split
//!
//! Each category has a universe of merchants: its brands plus composed merchants (a keyword
//! for the kind of business and a name, `PADARIA SANTA LUZIA`, `BLUE DOOR GRILL`, or an
//! invented word, `PADARIA KAMIRO`). For transfers, income and rent the "merchant" is the
//! counterparty (a person, a company, a landlord). The universe is drawn from the seed, then
//! shuffled, and two disjoint parts of it are **held out** of training:
//! [`GenConfig::held_out_merchants`] (20 % by default) for the test split and
//! [`GenConfig::validation_held_out_merchants`] (10 %) for the validation split.
//!
//! - **train** rows use only the other ("seen") merchants;
//! - **validation** rows come half from seen merchants and half from the validation's
//!   held-out merchants, so that a probability calibration fitted on it has seen what new
//!   merchants do to the model's confidence;
//! - **test** rows come half from seen merchants (new lines: other noise, amounts, dates)
//!   and half from the test's held-out merchants, which neither training nor validation
//!   rows name.
//!
//! So the test figure measures generalisation to new merchants, not memory of old ones.
//! Rows are split by count: `validation_fraction` and `test_fraction` of `rows` (10 % and
//! 20 % by default), the rest train. The same seed gives the same files, byte for byte.

pub mod corpus;
mod vocab;

use chrono::NaiveDate;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::Transaction;
use vocab::{Kind, Spec, SPECS};

/// Generator settings.
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    /// Seed: same seed, same rows.
    pub seed: u64,
    /// Total rows over the three splits.
    pub rows: usize,
    /// Share of rows in the validation split.
    pub validation_fraction: f64,
    /// Share of rows in the test split.
    pub test_fraction: f64,
    /// Share of each category's merchants held out for the test split only.
    pub held_out_merchants: f64,
    /// Share of each category's merchants held out for the validation split only.
    pub validation_held_out_merchants: f64,
    /// Share of test and validation rows drawn from their held-out merchants.
    pub test_unseen_share: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            rows: 100_000,
            validation_fraction: 0.1,
            test_fraction: 0.2,
            held_out_merchants: 0.2,
            validation_held_out_merchants: 0.1,
            test_unseen_share: 0.5,
        }
    }
}

/// One generated row.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledRow {
    /// The transaction.
    pub transaction: Transaction,
    /// Its label: a category, or for lines of the real-brand corpus whose merchant's kind
    /// has one, `category/sub` (see [`crate::domain::taxonomy`]).
    pub category: &'static str,
    /// Whether its merchant is held out of the training split (test and validation rows).
    pub unseen_merchant: bool,
    /// The merchant (or counterparty) the line was written from, before noise.
    pub merchant: String,
}

/// Which split a row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training rows (seen merchants only).
    Train,
    /// Validation rows (seen merchants only).
    Validation,
    /// Test rows (half from held-out merchants by default).
    Test,
}

impl Split {
    /// File stem: `train`, `validation`, `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Br,
    En,
}

#[derive(Clone, Debug)]
struct Merchant {
    name: String,
    style: Style,
}

struct Universe {
    /// Per category: seen merchants, merchants held out for test, and for validation.
    seen: Vec<Vec<Merchant>>,
    held: Vec<Vec<Merchant>>,
    held_validation: Vec<Vec<Merchant>>,
}

fn pick<'a, R: Rng>(rng: &mut R, xs: &[&'a str]) -> &'a str {
    xs[rng.gen_range(0..xs.len())]
}

fn invented<R: Rng>(rng: &mut R) -> String {
    let n = rng.gen_range(2..=3);
    (0..n).map(|_| pick(rng, vocab::SYLLABLES)).collect()
}

fn person<R: Rng>(rng: &mut R, style: Style) -> String {
    let (f, l) = match style {
        Style::Br => (vocab::FIRST_BR, vocab::LAST_BR),
        Style::En => (vocab::FIRST_EN, vocab::LAST_EN),
    };
    if rng.gen_bool(0.5) {
        format!("{} {} {}", pick(rng, f), pick(rng, l), pick(rng, l))
    } else {
        format!("{} {}", pick(rng, f), pick(rng, l))
    }
}

fn company<R: Rng>(rng: &mut R, style: Style) -> String {
    let base = if rng.gen_bool(0.5) {
        invented(rng)
    } else {
        match style {
            Style::Br => pick(rng, vocab::NAMES_BR).to_owned(),
            Style::En => pick(rng, vocab::NAMES_EN).to_owned(),
        }
    };
    let suffix = match style {
        Style::Br => pick(rng, vocab::COMPANY_SUFFIX_BR),
        Style::En => pick(rng, vocab::COMPANY_SUFFIX_EN),
    };
    format!("{base} {suffix}")
}

/// A composed merchant of a card or bill category.
fn composed<R: Rng>(rng: &mut R, spec: &Spec, style: Style) -> String {
    let (kws, names) = match style {
        Style::Br => (spec.keywords_br, vocab::NAMES_BR),
        Style::En => (spec.keywords_en, vocab::NAMES_EN),
    };
    let name = if rng.gen_bool(0.5) {
        invented(rng)
    } else {
        pick(rng, names).to_owned()
    };
    if kws.is_empty() || rng.gen_bool(0.04) {
        // A merchant whose name says nothing about what it sells: real statements have them.
        let suffix = match style {
            Style::Br => pick(rng, vocab::COMPANY_SUFFIX_BR),
            Style::En => pick(rng, vocab::COMPANY_SUFFIX_EN),
        };
        return format!("{name} {suffix}");
    }
    let kw = pick(rng, kws);
    match style {
        Style::Br => format!("{kw} {name}"),
        Style::En => format!("{name} {kw}"),
    }
}

fn universe(rng: &mut ChaCha8Rng, config: &GenConfig) -> Universe {
    let mut seen = Vec::new();
    let mut held = Vec::new();
    let mut held_validation = Vec::new();
    for spec in SPECS {
        let mut all: Vec<Merchant> = Vec::new();
        for (brands, style) in [(spec.brands_br, Style::Br), (spec.brands_en, Style::En)] {
            all.extend(brands.iter().map(|b| Merchant {
                name: (*b).to_owned(),
                style,
            }));
        }
        let composed_count = match spec.kind {
            Kind::Fee | Kind::Tax | Kind::Cash => 0,
            Kind::Transfer | Kind::Income => 120,
            _ => 80,
        };
        // Names are distinct, so a held-out merchant is never also a seen one.
        let mut names: std::collections::HashSet<String> =
            all.iter().map(|m| m.name.clone()).collect();
        for i in 0..composed_count {
            let style = if i % 10 < 7 { Style::Br } else { Style::En };
            for _attempt in 0..20 {
                let name = match spec.kind {
                    Kind::Transfer => person(rng, style),
                    Kind::Income => company(rng, style),
                    Kind::Rent if rng.gen_bool(0.4) => person(rng, style),
                    _ => composed(rng, spec, style),
                };
                if names.insert(name.clone()) {
                    all.push(Merchant { name, style });
                    break;
                }
            }
        }
        all.shuffle(rng);
        // Fixed texts (fees, taxes, cash) are not merchants: nothing to hold out.
        let share = |f: f64, n: usize| match spec.kind {
            Kind::Fee | Kind::Tax | Kind::Cash => 0,
            _ => ((n as f64) * f).round() as usize,
        };
        let total = all.len();
        let h = all.split_off(total - share(config.held_out_merchants, total));
        let hv = all.split_off(all.len() - share(config.validation_held_out_merchants, total));
        seen.push(all);
        held.push(h);
        held_validation.push(hv);
    }
    Universe {
        seen,
        held,
        held_validation,
    }
}

/// A Zipf-like pick: the first merchants of the list are the popular ones.
fn popular<'a, R: Rng>(rng: &mut R, xs: &'a [Merchant]) -> &'a Merchant {
    let u: f64 = rng.gen();
    let i = ((xs.len() as f64).powf(u) - 1.0) as usize;
    &xs[i.min(xs.len() - 1)]
}

fn typo<R: Rng>(rng: &mut R, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() < 4 {
        return s.to_owned();
    }
    let i = rng.gen_range(1..c.len() - 1);
    match rng.gen_range(0..3) {
        0 => {
            c.remove(i);
        }
        1 => c.swap(i, i + 1),
        _ => c.insert(i, c[i]),
    }
    c.into_iter().collect()
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect::<String>().trim_end().to_owned()
}

fn amount_minor<R: Rng>(rng: &mut R, spec: &Spec, style: Style) -> i64 {
    // Log-normal via Box-Muller (rand_distr is not a dependency).
    let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let mut major = spec.median * (spec.sigma * z).exp();
    if style == Style::En {
        major /= 5.0;
    }
    let mut minor = (major * 100.0).round().max(1.0) as i64;
    match spec.kind {
        Kind::Rent => minor = (minor / 5_000).max(1) * 5_000,
        Kind::Cash => minor = (minor / 1_000).max(1) * 1_000,
        Kind::Transfer if rng.gen_bool(0.3) => minor = (minor / 1_000).max(1) * 1_000,
        _ => {}
    }
    minor
}

fn date<R: Rng>(rng: &mut R, kind: Kind) -> NaiveDate {
    let year = rng.gen_range(2025..=2026);
    let month = rng.gen_range(1..=12);
    let day = match kind {
        Kind::Rent => rng.gen_range(1..=10),
        Kind::Income => {
            if rng.gen_bool(0.6) {
                rng.gen_range(1..=7)
            } else {
                rng.gen_range(25..=28)
            }
        }
        Kind::Bill => rng.gen_range(5..=20),
        _ => rng.gen_range(1..=28),
    };
    NaiveDate::from_ymd_opt(year, month, day).expect("valid date")
}

/// Writes a line for `merchant` of category `spec`; returns (description, signed amount).
fn render<R: Rng>(rng: &mut R, spec: &Spec, m: &Merchant) -> (String, i64) {
    let style = m.style;
    let amount = amount_minor(rng, spec, style);
    let mut out_sign = -1;
    let mut text = match spec.kind {
        Kind::Card | Kind::Bill => {
            let mut t = m.name.clone();
            if spec.kind == Kind::Card && !t.contains('*') && rng.gen_bool(0.12) {
                let p = match style {
                    Style::Br if spec.label == "restaurants" && rng.gen_bool(0.5) => "IFD*",
                    Style::Br => pick(rng, vocab::PROCESSORS_BR),
                    Style::En => pick(rng, vocab::PROCESSORS_EN),
                };
                t = format!("{p}{t}");
            }
            if rng.gen_bool(0.05) {
                t = typo(rng, &t);
            }
            if rng.gen_bool(0.35) {
                let city = match style {
                    Style::Br => pick(rng, vocab::CITIES_BR),
                    Style::En => pick(rng, vocab::CITIES_EN),
                };
                t = format!("{t} {city}");
            }
            if rng.gen_bool(0.25) {
                t = match rng.gen_range(0..4) {
                    0 => format!("{t} #{}", rng.gen_range(1..9999)),
                    1 => format!("{t} {:04}", rng.gen_range(1..9999)),
                    2 => format!("{t} LJ {}", rng.gen_range(1..300)),
                    _ => format!("{t} F{}", rng.gen_range(1..999)),
                };
            }
            if rng.gen_bool(0.25) {
                t = truncate(&t, rng.gen_range(18..=25));
            }
            let rail = match (spec.kind, style, rng.gen_range(0..10)) {
                (_, _, 0..=3) => None,
                (Kind::Card, Style::Br, _) => Some(pick(rng, vocab::RAILS_CARD_BR)),
                (Kind::Card, Style::En, _) => Some(pick(rng, vocab::RAILS_CARD_EN)),
                (_, Style::Br, _) => Some(pick(rng, vocab::RAILS_BILL_BR)),
                (_, Style::En, _) => Some(pick(rng, vocab::RAILS_BILL_EN)),
            };
            if let Some(r) = rail {
                if rng.gen_bool(0.15) {
                    t = format!(
                        "{r} {:02}/{:02} {t}",
                        rng.gen_range(1..=28),
                        rng.gen_range(1..=12)
                    );
                } else {
                    t = format!("{r} {t}");
                }
            }
            if spec.kind == Kind::Card && rng.gen_bool(0.02) {
                // A refund: money comes back, the category stays.
                out_sign = 1;
                t = match style {
                    Style::Br => format!("ESTORNO {t}"),
                    Style::En => format!("REFUND {t}"),
                };
            }
            t
        }
        Kind::Transfer => {
            let incoming = rng.gen_bool(0.45);
            if incoming {
                out_sign = 1;
            }
            let who = &m.name;
            match (style, incoming, rng.gen_range(0..4)) {
                (Style::Br, false, 0) => format!("PIX ENVIADO {who}"),
                (Style::Br, false, 1) => format!("TED {} {who}", rng.gen_range(1..999)),
                (Style::Br, false, 2) => format!("TRANSF ENVIADA {who}"),
                (Style::Br, false, _) => format!(
                    "PIX TRANSF {who} {:02}/{:02}",
                    rng.gen_range(1..=28),
                    rng.gen_range(1..=12)
                ),
                (Style::Br, true, 0) => format!("PIX RECEBIDO {who}"),
                (Style::Br, true, 1) => format!("TED RECEBIDA {who}"),
                (Style::Br, true, 2) => format!("TRANSF RECEBIDA {who}"),
                (Style::Br, true, _) => format!("DOC RECEBIDO {who}"),
                (Style::En, false, 0) => format!("ZELLE TO {who}"),
                (Style::En, false, 1) => format!("VENMO PAYMENT {who}"),
                (Style::En, false, 2) => format!(
                    "ONLINE TRANSFER TO {who} REF #{}",
                    rng.gen_range(10000..99999)
                ),
                (Style::En, false, _) => "TRANSFER TO SAVINGS".to_owned(),
                (Style::En, true, 0) => format!("ZELLE FROM {who}"),
                (Style::En, true, 1) => format!("VENMO CASHOUT {who}"),
                (Style::En, true, 2) => format!("ONLINE TRANSFER FROM {who}"),
                (Style::En, true, _) => "TRANSFER FROM SAVINGS".to_owned(),
            }
        }
        Kind::Income => {
            out_sign = 1;
            let c = &m.name;
            match (style, rng.gen_range(0..5)) {
                (Style::Br, 0) => format!("SALARIO {c}"),
                (Style::Br, 1) => format!("CREDITO SALARIO {c}"),
                (Style::Br, 2) => format!("PIX RECEBIDO {c}"),
                (Style::Br, 3) => format!("FOLHA PAGAMENTO {c}"),
                (Style::Br, _) => format!("TED RECEBIDA {c} PROVENTOS"),
                (Style::En, 0) => format!("PAYROLL {c}"),
                (Style::En, 1) => format!("DIRECT DEP {c} PAYROLL"),
                (Style::En, 2) => format!("ACH CREDIT {c} SALARY"),
                (Style::En, 3) => format!("{c} DIR DEP PPD ID {}", rng.gen_range(1000000..9999999)),
                (Style::En, _) => format!("DEPOSIT {c} PAYROLL"),
            }
        }
        Kind::Rent => {
            let who = &m.name;
            match (style, rng.gen_range(0..4)) {
                (Style::Br, 0) => format!("ALUGUEL {who}"),
                (Style::Br, 1) => format!("PIX ENVIADO {who} ALUGUEL"),
                (Style::Br, 2) => format!("BOLETO {who}"),
                (Style::Br, _) => format!(
                    "PAGTO ALUGUEL {who} {:02}/{}",
                    rng.gen_range(1..=12),
                    rng.gen_range(2025..=2026)
                ),
                (Style::En, 0) => format!("RENT PAYMENT {who}"),
                (Style::En, 1) => format!("{who} RENT"),
                (Style::En, 2) => format!("ZELLE TO {who} RENT"),
                (Style::En, _) => format!("ACH DEBIT {who} RENT PMT"),
            }
        }
        Kind::Fee | Kind::Tax | Kind::Cash => {
            let mut t = m.name.clone();
            if spec.kind == Kind::Tax && rng.gen_bool(0.5) {
                t = format!("{t} {}", rng.gen_range(2025..=2026));
            }
            if spec.kind == Kind::Cash && rng.gen_bool(0.5) {
                t = match style {
                    Style::Br => format!("{t} {:04}", rng.gen_range(1..9999)),
                    Style::En => format!("{t} {}", pick(rng, vocab::CITIES_EN)),
                };
            }
            if spec.kind == Kind::Fee && rng.gen_bool(0.2) {
                t = format!(
                    "{t} {:02}/{:02}",
                    rng.gen_range(1..=28),
                    rng.gen_range(1..=12)
                );
            }
            t
        }
    };
    if rng.gen_bool(0.06) {
        text = format!("{text} ****{:04}", rng.gen_range(0..10000));
    }
    if rng.gen_bool(0.05) {
        text = format!("{text} {}", rng.gen_range(100_000_000u64..999_999_999_999));
    }
    if rng.gen_bool(0.1) {
        // Some banks print mixed case.
        let mut chars = text.chars();
        let mut mixed = String::with_capacity(text.len());
        let mut up = true;
        for c in chars.by_ref() {
            mixed.extend(if up {
                c.to_uppercase().collect::<Vec<_>>()
            } else {
                c.to_lowercase().collect()
            });
            up = !c.is_alphanumeric();
        }
        text = mixed;
    }
    (text, out_sign * amount)
}

/// How many rows each split gets: validation and test by their fractions (rounded), train
/// the rest. Both generators split this way.
fn split_sizes(rows: usize, validation: f64, test: f64) -> [(Split, usize); 3] {
    let n_val = (rows as f64 * validation).round() as usize;
    let n_test = (rows as f64 * test).round() as usize;
    [
        (Split::Train, rows.saturating_sub(n_val + n_test)),
        (Split::Validation, n_val),
        (Split::Test, n_test),
    ]
}

/// The index of an item drawn with probability proportional to its `weight` (one draw of
/// `rng`; the last item takes any rounding remainder).
fn pick_weighted<T>(rng: &mut impl Rng, items: &[T], weight: impl Fn(&T) -> f64) -> usize {
    let total: f64 = items.iter().map(&weight).sum();
    let mut x = rng.gen_range(0.0..total);
    let mut i = 0;
    while x >= weight(&items[i]) && i + 1 < items.len() {
        x -= weight(&items[i]);
        i += 1;
    }
    i
}

/// Generates `config.rows` rows split into train, validation and test (see the module docs).
pub fn generate(config: &GenConfig) -> crate::Result<Vec<(Split, LabelledRow)>> {
    let bad = |what: String| Err(crate::Error::InvalidConfig { what });
    let f = |v: f64| (0.0..=1.0).contains(&v);
    if !(f(config.validation_fraction)
        && f(config.test_fraction)
        && config.validation_fraction + config.test_fraction < 1.0
        && f(config.held_out_merchants)
        && f(config.validation_held_out_merchants)
        && config.held_out_merchants + config.validation_held_out_merchants < 0.9
        && f(config.test_unseen_share))
    {
        return bad(format!("generator fractions out of range: {config:?}"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let u = universe(&mut rng, config);
    let mut out = Vec::with_capacity(config.rows);
    for (split, n) in split_sizes(
        config.rows,
        config.validation_fraction,
        config.test_fraction,
    ) {
        for i in 0..n {
            let ci = pick_weighted(&mut rng, SPECS, |s| s.weight);
            let spec = &SPECS[ci];
            let pool = match split {
                Split::Train => &u.seen[ci][..0],
                Split::Validation => &u.held_validation[ci][..],
                Split::Test => &u.held[ci][..],
            };
            let unseen = !pool.is_empty() && rng.gen_bool(config.test_unseen_share);
            let m = if unseen {
                popular(&mut rng, pool)
            } else {
                popular(&mut rng, &u.seen[ci])
            };
            let (description, amount_minor) = render(&mut rng, spec, m);
            let date = date(&mut rng, spec.kind);
            let currency = match m.style {
                Style::Br => "BRL",
                Style::En => "USD",
            };
            out.push((
                split,
                LabelledRow {
                    transaction: Transaction {
                        id: format!("{}-{i}", split.name()),
                        date,
                        description,
                        amount_minor,
                        currency: currency.to_owned(),
                    },
                    category: spec.label,
                    unseen_merchant: unseen,
                    merchant: m.name.clone(),
                },
            ));
        }
    }
    Ok(out)
}

/// Writes rows as labelled CSV (`id,date,description,amount,currency,category`), the
/// format [`read_labelled`](crate::records::read_labelled) reads.
pub fn write_csv<'a, W: std::io::Write>(
    out: W,
    rows: impl IntoIterator<Item = &'a LabelledRow>,
) -> crate::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "date",
        "description",
        "amount",
        "currency",
        "category",
    ])
    .map_err(std::io::Error::other)?;
    for r in rows {
        let t = &r.transaction;
        w.write_record([
            t.id.as_str(),
            &t.date.format("%Y-%m-%d").to_string(),
            &t.description,
            &amount_text(t),
            &t.currency,
            r.category,
        ])
        .map_err(std::io::Error::other)?;
    }
    w.flush()?;
    Ok(())
}

/// The amount as a statement prints it: currencies without a minor unit (ISO 4217: CLP,
/// JPY, …) in whole units, the others with two decimals.
fn amount_text(t: &Transaction) -> String {
    match t.currency.as_str() {
        "CLP" | "JPY" | "KRW" | "ISK" | "PYG" | "VND" => format!("{}", t.amount_minor / 100),
        _ => crate::records::format_amount(t.amount_minor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn small(seed: u64) -> Vec<(Split, LabelledRow)> {
        generate(&GenConfig {
            seed,
            rows: 5_000,
            ..GenConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        assert_eq!(small(1), small(1));
        assert_ne!(small(1), small(2));
    }

    #[test]
    fn split_sizes_categories_and_unseen_merchants() {
        let rows = small(3);
        let count = |s: Split| rows.iter().filter(|(x, _)| *x == s).count();
        assert_eq!(
            (
                count(Split::Train),
                count(Split::Validation),
                count(Split::Test)
            ),
            (3500, 500, 1000)
        );
        let cats: HashSet<&str> = rows.iter().map(|(_, r)| r.category).collect();
        assert_eq!(cats.len(), crate::Category::BUILTIN.len());
        assert!(cats.iter().all(|c| crate::Category::BUILTIN.contains(c)));
        assert!(rows
            .iter()
            .all(|(s, r)| !r.unseen_merchant || *s != Split::Train));
        let unseen = rows
            .iter()
            .filter(|(s, r)| r.unseen_merchant && *s == Split::Test)
            .count();
        assert!((350..650).contains(&unseen), "{unseen} unseen test rows");
        let merchants = |f: &dyn Fn(Split, bool) -> bool| -> HashSet<&str> {
            rows.iter()
                .filter(|(s, r)| f(*s, r.unseen_merchant))
                .map(|(_, r)| r.merchant.as_str())
                .collect()
        };
        let trained = merchants(&|s, _| s == Split::Train);
        let test_new = merchants(&|s, u| s == Split::Test && u);
        let validation_new = merchants(&|s, u| s == Split::Validation && u);
        assert!(!test_new.is_empty() && !validation_new.is_empty());
        assert!(test_new.is_disjoint(&trained));
        assert!(validation_new.is_disjoint(&trained));
        assert!(test_new.is_disjoint(&validation_new));
        // The same text hardly ever appears in both train and the unseen part of test.
        let train_text: HashSet<&str> = rows
            .iter()
            .filter(|(s, _)| *s == Split::Train)
            .map(|(_, r)| r.transaction.description.as_str())
            .collect();
        let leaked = rows
            .iter()
            .filter(|(s, r)| {
                r.unseen_merchant
                    && *s == Split::Test
                    && train_text.contains(r.transaction.description.as_str())
            })
            .count();
        assert!(
            leaked * 50 < unseen,
            "{leaked} unseen rows have a training line's text"
        );
    }

    #[test]
    fn lines_carry_statement_noise_and_round_trip_through_csv() {
        let rows = small(4);
        let text: Vec<&str> = rows
            .iter()
            .map(|(_, r)| r.transaction.description.as_str())
            .collect();
        for needle in ["COMPRA CARTAO", "PIX", "POS", "*", "****", "UBER *TRIP"] {
            assert!(
                text.iter().any(|t| t.contains(needle)),
                "no line contains {needle:?}"
            );
        }
        let mut buf = Vec::new();
        write_csv(&mut buf, rows.iter().map(|(_, r)| r)).unwrap();
        let back: Vec<_> = crate::records::read_labelled(buf.as_slice())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back.len(), rows.len());
        for ((tx, label), (_, r)) in back.iter().zip(&rows) {
            assert_eq!(tx, &r.transaction);
            assert_eq!(label, r.category);
        }
    }
}
