//! The simulator's statement lines: deterministic per (seed, customer, day), so any window
//! asked twice gives the same transactions, and tests can compute what a job must store.

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::domain::Transaction;

/// (category, merchants, min amount, max amount in minor units; negative is money out)
struct Kind {
    /// The category a person would give these lines (the tour scores the bundled model
    /// against it).
    category: &'static str,
    merchants: &'static [&'static str],
    min: i64,
    max: i64,
    /// Relative frequency.
    weight: u32,
    /// Card purchases get rail prefixes and city suffixes.
    card: bool,
}

const KINDS: &[Kind] = &[
    Kind {
        category: "groceries",
        merchants: &[
            "SUPERMERCADO EXTRA",
            "CARREFOUR HIPER",
            "PAO DE ACUCAR",
            "ATACADAO",
            "WHOLE FOODS MKT",
            "ASSAI ATACADISTA",
        ],
        min: -45000,
        max: -1500,
        weight: 14,
        card: true,
    },
    Kind {
        category: "restaurants",
        merchants: &[
            "IFD*IFOOD",
            "RESTAURANTE SABOR CASEIRO",
            "MCDONALDS",
            "STARBUCKS",
            "PADARIA REAL",
            "OUTBACK STEAKHOUSE",
        ],
        min: -18000,
        max: -1200,
        weight: 14,
        card: true,
    },
    Kind {
        category: "transport",
        merchants: &[
            "UBER *TRIP",
            "99APP *99POP",
            "CABIFY",
            "METRO RECARGA",
            "LYFT *RIDE",
        ],
        min: -9000,
        max: -500,
        weight: 10,
        card: true,
    },
    Kind {
        category: "fuel",
        merchants: &["POSTO SHELL", "POSTO IPIRANGA", "AUTO POSTO BR", "CHEVRON"],
        min: -35000,
        max: -6000,
        weight: 5,
        card: true,
    },
    Kind {
        category: "rent",
        merchants: &["ALUGUEL QUINTOANDAR", "RENT PAYMENT"],
        min: -450000,
        max: -150000,
        weight: 1,
        card: false,
    },
    Kind {
        category: "utilities",
        merchants: &["PRLV ENEL SP", "PRLV SABESP", "COMGAS", "CON EDISON"],
        min: -40000,
        max: -6000,
        weight: 2,
        card: false,
    },
    Kind {
        category: "telecom",
        merchants: &["PRLV VIVO", "CLARO NET", "TIM CELULAR", "VERIZON WIRELESS"],
        min: -25000,
        max: -5000,
        weight: 2,
        card: false,
    },
    Kind {
        category: "health",
        merchants: &["DROGASIL", "DROGA RAIA", "LAB FLEURY", "CVS PHARMACY"],
        min: -40000,
        max: -1500,
        weight: 4,
        card: true,
    },
    Kind {
        category: "insurance",
        merchants: &["UNIMED", "PORTO SEGURO", "GEICO", "STATE FARM"],
        min: -60000,
        max: -5000,
        weight: 1,
        card: false,
    },
    Kind {
        category: "subscriptions",
        merchants: &["NETFLIX.COM", "SPOTIFY", "AMAZON PRIME", "DISNEY PLUS"],
        min: -6000,
        max: -1500,
        weight: 3,
        card: true,
    },
    Kind {
        category: "shopping",
        merchants: &[
            "MERCADOLIVRE",
            "AMAZON MKTPLACE",
            "MAGAZINE LUIZA",
            "SHOPEE",
        ],
        min: -90000,
        max: -2500,
        weight: 6,
        card: true,
    },
    Kind {
        category: "transfers",
        merchants: &["PIX ENVIADO", "TED ENVIADA", "ZELLE TO"],
        min: -120000,
        max: -1000,
        weight: 5,
        card: false,
    },
    Kind {
        category: "income",
        merchants: &["PIX RECEBIDO", "SALARIO", "PAYROLL DEPOSIT"],
        min: 50000,
        max: 900000,
        weight: 3,
        card: false,
    },
    Kind {
        category: "fees",
        merchants: &["TARIFA PACOTE SERVICOS", "IOF", "MONTHLY SERVICE FEE"],
        min: -5000,
        max: -300,
        weight: 2,
        card: false,
    },
    Kind {
        category: "cash",
        merchants: &["SAQUE 24H", "ATM WITHDRAWAL"],
        min: -100000,
        max: -2000,
        weight: 2,
        card: false,
    },
];

const PEOPLE: &[&str] = &[
    "MARIA SILVA",
    "JOAO SOUZA",
    "ANA LIMA",
    "JOHN SMITH",
    "CARLOS PEREIRA",
];
const CITIES: &[&str] = &[
    "SAO PAULO",
    "RIO DE JANEIR",
    "BELO HORIZONT",
    "CURITIBA",
    "NEW YORK",
    "OSASCO",
];
const RAILS: &[&str] = &["COMPRA CARTAO ", "CB ", "POS ", "PAG*", ""];

fn day_seed(seed: u64, customer: &str, day: NaiveDate) -> u64 {
    // FNV-1a: stable across platforms and releases (std's hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in customer.bytes().chain(day.to_string().bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn line(rng: &mut StdRng, kind: &Kind) -> String {
    let merchant = kind.merchants[rng.gen_range(0..kind.merchants.len())];
    if merchant.starts_with("PIX") || merchant.starts_with("TED") || merchant.starts_with("ZELLE") {
        return format!("{merchant} {}", PEOPLE[rng.gen_range(0..PEOPLE.len())]);
    }
    if !kind.card {
        return merchant.to_owned();
    }
    let rail = RAILS[rng.gen_range(0..RAILS.len())];
    let mut s = format!("{rail}{merchant}");
    if rng.gen_bool(0.4) {
        s.push_str(&format!(" {:04}", rng.gen_range(1..9999)));
    }
    if rng.gen_bool(0.5) {
        s.push(' ');
        s.push_str(CITIES[rng.gen_range(0..CITIES.len())]);
    }
    if rng.gen_bool(0.3) {
        s.push_str(&format!(
            " {:02}/{:02}",
            rng.gen_range(1..29),
            rng.gen_range(1..13)
        ));
    }
    // Statements truncate descriptions.
    s.chars().take(40).collect()
}

/// Every merchant the simulator prints, with its category, in the simulator's order.
pub fn merchants() -> impl Iterator<Item = (&'static str, &'static str)> {
    KINDS
        .iter()
        .flat_map(|k| k.merchants.iter().map(move |m| (*m, k.category)))
}

/// The transactions of `customer` on `day`: about `per_day` of them.
pub(crate) fn day(seed: u64, customer: &str, day: NaiveDate, per_day: f64) -> Vec<Transaction> {
    let mut rng = StdRng::seed_from_u64(day_seed(seed, customer, day));
    let n = if per_day <= 0.0 {
        0
    } else {
        rng.gen_range(0..=(2.0 * per_day).round() as u32)
    };
    let total_weight: u32 = KINDS.iter().map(|k| k.weight).sum();
    (0..n)
        .map(|i| {
            let mut pick = rng.gen_range(0..total_weight);
            let kind = KINDS
                .iter()
                .find(|k| {
                    if pick < k.weight {
                        true
                    } else {
                        pick -= k.weight;
                        false
                    }
                })
                .expect("weights cover the range");
            Transaction {
                id: format!("{customer}-{}-{i}", day.format("%Y%m%d")),
                date: day,
                description: line(&mut rng, kind),
                amount_minor: rng.gen_range(kind.min..=kind.max),
                currency: "BRL".to_owned(),
            }
        })
        .collect()
}

/// Every transaction of `customer` in `[from, to]`, oldest first.
pub(crate) fn window(
    seed: u64,
    customer: &str,
    from: NaiveDate,
    to: NaiveDate,
    per_day: f64,
) -> Vec<Transaction> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .flat_map(|d| day(seed, customer, d, per_day))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_window_consistent() {
        let a = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let b = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let w1 = window(7, "c1", a, b, 3.0);
        let w2 = window(7, "c1", a, b, 3.0);
        assert_eq!(w1, w2);
        assert!(w1.len() > 30, "about 3 a day, got {}", w1.len());
        let firsts = window(7, "c1", a, a, 3.0);
        assert_eq!(&w1[..firsts.len()], &firsts[..]);
        assert_ne!(w1, window(7, "c2", a, b, 3.0));
        let mut ids: Vec<_> = w1.iter().map(|t| t.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), w1.len());
    }
}
