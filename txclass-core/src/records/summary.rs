//! Totals of one run over a file: what the CLI prints at the end of `txclass classify`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::domain::{Category, CategoryTotal, Prediction, Transaction};

/// What a run over a file did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FileSummary {
    /// Rows seen, good and bad (blank NDJSON lines are not rows).
    pub rows_read: u64,
    /// Rows classified and written.
    pub classified: u64,
    /// Bad rows reported and not written.
    pub skipped: u64,
    /// Classified rows whose probability fell under the uncertainty threshold (they are
    /// also counted under [`Category::UNCERTAIN`] in `categories`).
    pub uncertain: u64,
    /// Count per category, and its signed total per currency (minor units of each).
    pub categories: BTreeMap<Category, CategoryTotal>,
    /// The same per sub-category (full `main/sub` labels), for rows that have one.
    pub sub_categories: BTreeMap<Category, CategoryTotal>,
    /// Classified rows per currency.
    pub currencies: BTreeMap<String, u64>,
    /// Wall time of the run.
    #[serde(serialize_with = "as_millis")]
    pub elapsed: Duration,
}

fn by_count<'a>(
    totals: impl Iterator<Item = (&'a Category, &'a CategoryTotal)>,
) -> Vec<(&'a Category, &'a CategoryTotal)> {
    let mut v: Vec<_> = totals.collect();
    v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
    v
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl FileSummary {
    /// Counts a classified row.
    pub fn record_classified(&mut self, tx: &Transaction, p: &Prediction) {
        self.rows_read += 1;
        self.classified += 1;
        if p.uncertain {
            self.uncertain += 1;
        }
        *self.currencies.entry(tx.currency.clone()).or_default() += 1;
        self.categories
            .entry(p.category.clone())
            .or_default()
            .add(&tx.currency, tx.amount_minor);
        if let Some(sub) = &p.sub_category {
            self.sub_categories
                .entry(sub.clone())
                .or_default()
                .add(&tx.currency, tx.amount_minor);
        }
    }

    /// Counts a bad row that was reported and not written.
    pub fn record_skipped(&mut self) {
        self.rows_read += 1;
        self.skipped += 1;
    }

    /// The currency of every classified row, when they share one (the category totals
    /// are then amounts of it).
    pub fn currency(&self) -> Option<&str> {
        match self.currencies.len() {
            1 => self.currencies.keys().next().map(String::as_str),
            _ => None,
        }
    }

    /// Rows read per second of wall time (0 when no time has passed).
    pub fn rows_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.rows_read as f64 / secs
        } else {
            0.0
        }
    }

    /// Categories by descending count, then by name: the order to print them in.
    pub fn categories_by_count(&self) -> Vec<(&Category, &CategoryTotal)> {
        by_count(self.categories.iter())
    }

    /// The sub-categories of `category` by descending count, then by name.
    pub fn sub_categories_by_count(&self, category: &Category) -> Vec<(&Category, &CategoryTotal)> {
        by_count(
            self.sub_categories
                .iter()
                .filter(|(s, _)| crate::domain::taxonomy::main_of(s.as_str()) == category.as_str()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Confidence;

    fn tx(amount_minor: i64) -> Transaction {
        Transaction {
            id: "t".into(),
            date: "2026-01-02".parse().unwrap(),
            description: "X".into(),
            amount_minor,
            currency: "BRL".into(),
        }
    }

    fn pred(cat: &str, uncertain: bool) -> Prediction {
        Prediction::from_model(Category::new(cat), 0.5, Confidence::Medium, uncertain)
    }

    #[test]
    fn counts_totals_and_rate() {
        let mut s = FileSummary::default();
        s.record_classified(&tx(-500), &pred("fuel", false));
        s.record_classified(&tx(-250), &pred("fuel", false));
        s.record_classified(&tx(1000), &pred("uncertain", true));
        s.record_classified(&tx(1), &pred("cash", false));
        s.record_skipped();
        assert_eq!(
            (s.rows_read, s.classified, s.skipped, s.uncertain),
            (5, 4, 1, 1)
        );
        let fuel = &s.categories[&Category::new("fuel")];
        assert_eq!((fuel.count, fuel.amounts_minor["BRL"]), (2, -750));
        let order: Vec<_> = s
            .categories_by_count()
            .iter()
            .map(|(c, _)| c.as_str())
            .collect();
        assert_eq!(order, ["fuel", "cash", "uncertain"]);
        assert_eq!(s.rows_per_second(), 0.0);
        s.elapsed = Duration::from_millis(2500);
        assert_eq!(s.rows_per_second(), 2.0);
        assert_eq!(s.currency(), Some("BRL"));
        let mut yen = tx(5);
        yen.currency = "JPY".into();
        s.record_classified(&yen, &pred("cash", false));
        assert_eq!(s.currency(), None, "two currencies have no common total");
    }
}
