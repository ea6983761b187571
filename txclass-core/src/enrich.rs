//! Enrichment: transactions a client already holds, classified on request (`POST
//! /v1/enrich`) through the same [`RuleSet::classify`] as jobs and `txclass classify`. No
//! partner is involved and nothing is stored.
//!
//! Rows are read one by one: a bad row gets its own error (which field, what is wrong) and
//! the others go through.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::classifier::explain::DEFAULT_TOP;
use crate::classifier::{Classifier, Explanation};
use crate::currency::amount_minor;
use crate::currency::Currency;
use crate::domain::parse_date;
use crate::domain::{Category, Confidence, CustomerId, Source, Transaction};
use crate::rules::RuleSet;
use crate::store::merchant_name;

/// Most transactions one enrich call takes.
pub const MAX_ENRICH_ROWS: usize = 1000;

/// An enrich call: the transactions, and optionally the customer whose rules apply (global
/// rules always do).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrichRequest {
    /// Whose rules apply besides the global ones.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// The rows, each read on its own (see [`read_row`]).
    pub transactions: Vec<Value>,
}

/// What is wrong with one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RowError {
    /// `invalid_row`.
    pub code: String,
    /// The row's field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong with it.
    pub message: String,
}

impl RowError {
    fn new(field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            code: "invalid_row".into(),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// One classified row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enriched {
    /// The category (a rule's, or the model's; `uncertain` when the model is unsure).
    pub category: Category,
    /// The sub-category, a full `main/sub` label (the model's most likely one under
    /// `category`, or a rule's); `null` when there is none finer.
    pub sub_category: Option<Category>,
    /// The probability of `sub_category` (1 for a rule's).
    #[serde(default)]
    pub sub_probability: Option<f32>,
    /// The taxonomy version of `category` and `sub_category`; `null` for categories of
    /// one's own.
    #[serde(default)]
    pub taxonomy_version: Option<String>,
    /// Calibrated probability (1 for a rule's category).
    pub probability: f32,
    /// The band the probability falls in.
    pub confidence: Confidence,
    /// The model was unsure: a human should look.
    pub uncertain: bool,
    /// When `uncertain`: the category the model finds most likely (probability
    /// `probability`), for the human to confirm or correct; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guess: Option<Category>,
    /// `model` or `rule:<id>`.
    pub source: Source,
    /// Clean merchant name: a rule's, or the one derived from the description.
    pub merchant: String,
    /// Why the model gives the line its category (asked for with `explain`; a rule's answer
    /// has one too, of what the model would have said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// The answer for one row, in request order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrichRow {
    /// Position in the request, from 0.
    pub index: usize,
    /// The row's `id`, when it had one.
    pub id: Option<String>,
    /// The classification, or why the row was refused.
    #[serde(flatten)]
    pub outcome: EnrichOutcome,
}

/// A row's classification or its error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnrichOutcome {
    /// Classified.
    #[serde(rename = "result")]
    Classified(Box<Enriched>),
    /// Refused.
    Error(RowError),
}

/// The answer to an enrich call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrichResponse {
    /// Rows classified.
    pub classified: usize,
    /// Rows refused.
    pub refused: usize,
    /// The model's name and version.
    pub model: String,
    /// One entry per row, in order.
    pub rows: Vec<EnrichRow>,
}

/// A row of an enrich call as a [`Transaction`]: `date` (`YYYY-MM-DD` or the other forms
/// the file readers take), `description`, `currency` (ISO 4217, required), and the amount
/// either as `amount` in major units (`"-12.50"` or `-12.5`, no more decimals than the
/// currency has) or as `amount_minor` (an integer); `id` is optional.
pub fn read_row(v: &Value, index: usize) -> Result<Transaction, RowError> {
    let Some(obj) = v.as_object() else {
        return Err(RowError::new(None, "a row is a JSON object"));
    };
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "id" | "date" | "description" | "amount" | "amount_minor" | "currency"
        ) {
            return Err(RowError::new(Some(key), format!("unknown field `{key}`")));
        }
    }
    let text = |field: &str| -> Result<Option<&str>, RowError> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(RowError::new(Some(field), "must be a string")),
        }
    };
    let required = |field: &str| -> Result<&str, RowError> {
        text(field)?.ok_or_else(|| RowError::new(Some(field), "required"))
    };
    let id = text("id")?
        .map(str::to_owned)
        .unwrap_or_else(|| index.to_string());
    let date = parse_date(required("date")?).map_err(|m| RowError::new(Some("date"), m))?;
    let description = required("description")?;
    if description.trim().is_empty() {
        return Err(RowError::new(Some("description"), "must not be empty"));
    }
    let code = required("currency")?;
    let currency = Currency::from_code(code).ok_or_else(|| {
        RowError::new(
            Some("currency"),
            format!("{code:?} is not an ISO 4217 currency code"),
        )
    })?;
    let amount_minor = match (obj.get("amount"), obj.get("amount_minor")) {
        (Some(_), Some(_)) => {
            return Err(RowError::new(
                Some("amount"),
                "give amount or amount_minor, not both",
            ))
        }
        (None, None) => return Err(RowError::new(Some("amount"), "required (or amount_minor)")),
        (None, Some(m)) => m
            .as_i64()
            .ok_or_else(|| RowError::new(Some("amount_minor"), "must be an integer"))?,
        (Some(a), None) => {
            let shown = match a {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(RowError::new(
                        Some("amount"),
                        "must be a number or a string",
                    ))
                }
            };
            amount_minor(&shown, currency).map_err(|m| RowError::new(Some("amount"), m))?
        }
    };
    Ok(Transaction {
        id,
        date,
        description: description.to_owned(),
        amount_minor,
        currency: currency.code().to_owned(),
    })
}

/// Classifies the rows of an enrich call through `rules` and `classifier` (with `explain`,
/// each with its [`Explanation`]); a row that cannot be read gets its error and the others
/// go through. The caller checks the row count ([`MAX_ENRICH_ROWS`]).
pub fn enrich(
    rules: &RuleSet,
    classifier: &dyn Classifier,
    rows: &[Value],
    explain: bool,
) -> EnrichResponse {
    let read: Vec<Result<Transaction, RowError>> = rows
        .iter()
        .enumerate()
        .map(|(i, v)| read_row(v, i))
        .collect();
    let good: Vec<Transaction> = read
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .cloned()
        .collect();
    let mut predictions = rules.classify(classifier, &good, None).into_iter();
    let mut out = Vec::with_capacity(rows.len());
    let (mut classified, mut refused) = (0, 0);
    for (index, (r, v)) in read.into_iter().zip(rows).enumerate() {
        let given_id = v.get("id").and_then(Value::as_str).map(str::to_owned);
        let outcome = match r {
            Ok(tx) => {
                classified += 1;
                let p = predictions.next().expect("one prediction per good row");
                EnrichOutcome::Classified(Box::new(Enriched {
                    explanation: explain
                        .then(|| classifier.explain(&tx, DEFAULT_TOP))
                        .flatten(),
                    merchant: merchant_name(&tx.description, &p),
                    category: p.category,
                    sub_category: p.sub_category,
                    sub_probability: p.sub_probability,
                    taxonomy_version: p.taxonomy_version,
                    probability: p.probability,
                    confidence: p.confidence,
                    uncertain: p.uncertain,
                    guess: p.guess,
                    source: p.source,
                }))
            }
            Err(e) => {
                refused += 1;
                EnrichOutcome::Error(e)
            }
        };
        out.push(EnrichRow {
            index,
            id: given_id,
            outcome,
        });
    }
    EnrichResponse {
        classified,
        refused,
        model: classifier.version().to_owned(),
        rows: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_read_with_their_currencys_decimals() {
        let tx = read_row(
            &json!({"id": "t1", "date": "2026-03-01", "description": "X", "amount": "-12.50", "currency": "eur"}),
            0,
        )
        .unwrap();
        assert_eq!((tx.amount_minor, tx.currency.as_str()), (-1250, "EUR"));
        let yen = read_row(
            &json!({"date": "2026-03-01", "description": "X", "amount": -1200, "currency": "JPY"}),
            7,
        )
        .unwrap();
        assert_eq!((yen.amount_minor, yen.id.as_str()), (-1200, "7"));
        let minor = read_row(
            &json!({"date": "2026-03-01", "description": "X", "amount_minor": 5, "currency": "KWD"}),
            0,
        )
        .unwrap();
        assert_eq!(minor.amount_minor, 5);
    }

    #[test]
    fn bad_rows_name_their_field() {
        let field = |v: Value| read_row(&v, 0).unwrap_err().field;
        let ok =
            json!({"date": "2026-03-01", "description": "X", "amount": "1.00", "currency": "BRL"});
        let with = |k: &str, v: Value| {
            let mut o = ok.clone();
            o[k] = v;
            o
        };
        let without = |k: &str| {
            let mut o = ok.clone();
            o.as_object_mut().unwrap().remove(k);
            o
        };
        assert_eq!(field(without("currency")).as_deref(), Some("currency"));
        assert_eq!(
            field(with("currency", json!("XYZ"))).as_deref(),
            Some("currency")
        );
        assert_eq!(
            field(with("date", json!("2026-13-01"))).as_deref(),
            Some("date")
        );
        assert_eq!(field(without("amount")).as_deref(), Some("amount"));
        assert_eq!(
            field(with("amount", json!("0.125"))).as_deref(),
            Some("amount")
        );
        assert_eq!(
            field(with("amount_minor", json!(1))).as_deref(),
            Some("amount")
        );
        assert_eq!(
            field(with("description", json!(3))).as_deref(),
            Some("description")
        );
        assert_eq!(
            field(with("colour", json!("red"))).as_deref(),
            Some("colour")
        );
        assert_eq!(field(json!([1])), None);
    }
}
