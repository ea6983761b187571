//! A user's correction of one stored transaction's category. The store keeps the latest per
//! transaction; when the transaction is classified again it wins over rules and the model;
//! `K` consistent corrections of one merchant suggest a rule; and corrections are the rows
//! `txclass train --corrections` warm-starts a model from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::rule::{Action, Conditions, Rule, RuleScope, Stage, MAX_TEXT};
use super::{Category, CustomerId, InvalidRequest, PartnerId, Source, Transaction};

/// A correction as stored: what the user said, the transaction it is about, and what the
/// transaction had been classified as.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Correction {
    /// Whose transaction.
    pub customer_id: CustomerId,
    /// The partner it came from (with `id`, the transaction's key in the store).
    pub partner_id: PartnerId,
    /// The transaction as stored when it was corrected.
    #[serde(flatten)]
    pub transaction: Transaction,
    /// [`merchant_of`](crate::merchant::merchant_of) its description: what corrections are
    /// counted by, and what a suggested rule matches (`merchant_is`).
    pub merchant: String,
    /// The category the user gave.
    pub category: Category,
    /// The sub-category the user gave, if any.
    #[serde(default)]
    pub sub_category: Option<Category>,
    /// The category it had before.
    pub previous_category: Category,
    /// What had decided it.
    pub previous_source: Source,
    /// When the user corrected it.
    pub corrected_at: DateTime<Utc>,
}

/// What a user sends to correct a transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    /// The right category: one of the model's labels.
    pub category: Category,
    /// A finer category, if the user gives one.
    #[serde(default)]
    pub sub_category: Option<Category>,
    /// The partner, needed only when the customer has transactions with this id at two
    /// partners.
    #[serde(default)]
    pub partner_id: Option<PartnerId>,
}

impl CorrectionRequest {
    /// Checks the shape of the request against the categories a correction may give
    /// (`labels`: the model's main categories). The sub-category's place in the taxonomy is
    /// checked where the taxonomy is ([`Orchestrator::correct`](crate::Orchestrator::correct)).
    pub fn validate(&self, labels: &[Category]) -> Result<(), InvalidRequest> {
        let invalid = |field: &'static str, message: String| InvalidRequest { field, message };
        let text = |field: &'static str, s: &str| -> Result<(), InvalidRequest> {
            if s.trim().is_empty() {
                return Err(invalid(field, "must not be empty".into()));
            }
            if s.chars().count() > MAX_TEXT {
                return Err(invalid(field, format!("longer than {MAX_TEXT} characters")));
            }
            super::check_id(field, s)
        };
        text("category", self.category.as_str())?;
        if !labels.contains(&self.category) {
            let known: Vec<&str> = labels.iter().map(Category::as_str).collect();
            return Err(invalid(
                "category",
                format!(
                    "{:?} is not a category of the model (one of: {})",
                    self.category.as_str(),
                    known.join(", ")
                ),
            ));
        }
        if let Some(sub) = &self.sub_category {
            text("sub_category", sub.as_str())?;
        }
        if let Some(p) = &self.partner_id {
            text("partner_id", p.as_str())?;
        }
        Ok(())
    }
}

/// The rule `corrections` suggest when the newest `k` of them (all of one customer and
/// merchant, newest first) give one category and sub-category: a pre rule of the customer's
/// that gives it to the merchant's transactions. `None` when there are fewer than `k` or
/// they disagree.
pub fn suggested_rule(corrections: &[Correction], k: usize) -> Option<Rule> {
    let newest = corrections.get(..k.max(1))?;
    let first = newest.first()?;
    let consistent = newest.iter().all(|c| {
        c.customer_id == first.customer_id
            && c.merchant == first.merchant
            && c.category == first.category
            && c.sub_category == first.sub_category
    });
    consistent.then(|| Rule {
        id: suggested_rule_id(&first.customer_id, &first.merchant),
        scope: RuleScope::Customer {
            customer_id: first.customer_id.clone(),
        },
        stage: Stage::Pre,
        order: 0,
        conditions: Conditions {
            merchant_is: Some(first.merchant.clone()),
            ..Conditions::default()
        },
        action: Action {
            category: Some(first.category.clone()),
            sub_category: first.sub_category.clone(),
            merchant: None,
        },
        stop_processing: false,
    })
}

/// The id of the rule suggested for a customer's merchant: the same for every suggestion of
/// that merchant (so creating it twice conflicts instead of piling up copies), and made of
/// the characters rule ids allow.
fn suggested_rule_id(customer: &CustomerId, merchant: &str) -> String {
    let slug: String = merchant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let hash = crate::hash::fnv1a(
        0xc0,
        format!("{}\u{1f}{merchant}", customer.as_str()).as_bytes(),
    );
    format!("merchant-{slug}-{:08x}", hash as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn correction(merchant: &str, category: &str) -> Correction {
        Correction {
            customer_id: CustomerId::new("c1"),
            partner_id: PartnerId::new("bank"),
            transaction: Transaction {
                id: "t".into(),
                date: "2026-03-01".parse().unwrap(),
                description: format!("PAG*{merchant}"),
                amount_minor: -1250,
                currency: "BRL".into(),
            },
            merchant: merchant.into(),
            category: Category::new(category),
            sub_category: None,
            previous_category: Category::new("shopping"),
            previous_source: Source::Model,
            corrected_at: Utc::now(),
        }
    }

    #[test]
    fn k_consistent_corrections_suggest_a_rule_and_fewer_or_mixed_do_not() {
        let same = vec![correction("PADARIA REAL", "groceries"); 3];
        let rule = suggested_rule(&same, 3).unwrap();
        assert_eq!(rule.conditions.merchant_is.as_deref(), Some("PADARIA REAL"));
        assert_eq!(rule.action.category, Some(Category::new("groceries")));
        assert_eq!(
            rule.scope,
            RuleScope::Customer {
                customer_id: CustomerId::new("c1")
            }
        );
        assert!(rule.clone().validate("suggested").is_ok(), "{rule:?}");
        assert!(suggested_rule(&same[..2], 3).is_none());
        let mut mixed = same.clone();
        mixed[1].category = Category::new("restaurants");
        assert!(suggested_rule(&mixed, 3).is_none());
        // Only the newest k count: an older disagreement is outvoted.
        for _ in 0..2 {
            mixed.insert(0, correction("PADARIA REAL", "restaurants"));
        }
        assert!(
            suggested_rule(&mixed, 3).is_none(),
            "restaurants, restaurants, groceries"
        );
        mixed.insert(0, correction("PADARIA REAL", "restaurants"));
        assert_eq!(
            suggested_rule(&mixed, 3).unwrap().action.category,
            Some(Category::new("restaurants"))
        );
        // One id per customer and merchant.
        assert_eq!(rule.id, suggested_rule(&same, 2).unwrap().id);
        assert_ne!(
            rule.id,
            suggested_rule(&vec![correction("PADARIA REAL 2", "groceries"); 3], 3)
                .unwrap()
                .id
        );
    }

    #[test]
    fn a_request_must_name_a_category_of_the_model() {
        let labels = [Category::new("groceries"), Category::new("fuel")];
        let req = |c: &str| CorrectionRequest {
            category: Category::new(c),
            sub_category: None,
            partner_id: None,
        };
        assert!(req("fuel").validate(&labels).is_ok());
        let e = req("grocries").validate(&labels).unwrap_err();
        assert_eq!(e.field, "category");
        assert!(e.message.contains("groceries, fuel"), "{}", e.message);
        assert_eq!(req(" ").validate(&labels).unwrap_err().field, "category");
        let mut r = req("fuel");
        r.partner_id = Some(PartnerId::new("a\nb"));
        assert_eq!(r.validate(&labels).unwrap_err().field, "partner_id");
    }
}
