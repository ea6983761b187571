//! Corrections as the shells use them: correct a stored transaction (validated against the
//! model's labels), re-summarise its month, and suggest (or create) the rule `K` consistent
//! corrections of one merchant call for.

use chrono::{Datelike, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::Orchestrator;
use crate::domain::correction::{suggested_rule, Correction, CorrectionRequest};
use crate::domain::taxonomy::Taxonomy;
use crate::domain::{Category, ClassifiedTransaction, CustomerId, Source};
use crate::merchant::merchant_of;
use crate::rules::Rule;
use crate::store::{CorrectionQuery, SpendingQuery, SpendingRow, StoreError, MAX_CORRECTIONS};
use crate::{Error, Result};

/// What corrections do beyond the transaction itself: the `[corrections]` table of the
/// server's config file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrectionSettings {
    /// After this many consistent corrections of one merchant (the newest ones, all to the
    /// same category), a rule is suggested; 0 never suggests.
    pub suggest_rule_after: u32,
    /// Create the suggested rule at once instead of only returning it.
    pub create_rules: bool,
}

impl Default for CorrectionSettings {
    /// Three corrections (as Actual Budget does), suggestions only.
    fn default() -> Self {
        Self {
            suggest_rule_after: 3,
            create_rules: false,
        }
    }
}

/// What correcting a transaction did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorrectionOutcome {
    /// The transaction as now stored (source `user`).
    pub transaction: ClassifiedTransaction,
    /// The correction as stored.
    pub correction: Correction,
    /// The customer's spending in the transaction's month after the correction (every
    /// category and currency).
    pub spending: Vec<SpendingRow>,
    /// The rule the merchant's corrections call for, when the newest
    /// `suggest_rule_after` of them agree and the customer has no rule with its id yet.
    pub suggested_rule: Option<Rule>,
    /// Whether `suggested_rule` was created (`create_rules`).
    pub rule_created: bool,
}

impl Orchestrator {
    /// Corrects the category of the customer's stored transaction `tx_id`: stores the
    /// correction, gives the transaction the user's category (source [`Source::User`], which
    /// later jobs keep), and returns the month's spending after it and the rule the
    /// merchant's corrections suggest. [`Error::UnknownTransaction`] when the customer has
    /// no such transaction; [`Error::InvalidRequest`] for a category the model does not
    /// have, or an id two partners share without `partner_id`.
    pub async fn correct(
        &self,
        customer: &CustomerId,
        tx_id: &str,
        request: CorrectionRequest,
    ) -> Result<CorrectionOutcome> {
        // `restaurants/coffee`, or `restaurants` with `coffee`: the main category and the
        // full sub-category label, checked against the taxonomy.
        let (category, sub_category) = Taxonomy::builtin()
            .resolve(
                Some(request.category.as_str()),
                request.sub_category.as_ref().map(Category::as_str),
            )
            .map_err(|message| Error::InvalidRequest {
                field: if request.sub_category.is_some() {
                    "sub_category"
                } else {
                    "category"
                },
                message,
            })?;
        let request = CorrectionRequest {
            category: category.unwrap_or(request.category),
            sub_category,
            partner_id: request.partner_id,
        };
        request.validate(self.inner.classifier.categories())?;
        let store = &self.data;
        let unknown = || Error::UnknownTransaction {
            customer: customer.clone(),
            id: tx_id.to_owned(),
        };
        let mut found = store.transactions_with_id(customer, tx_id).await?;
        if let Some(p) = &request.partner_id {
            found.retain(|t| &t.partner_id == p);
        }
        let stored = match found.len() {
            0 => return Err(unknown()),
            1 => found.pop().expect("one"),
            _ => {
                let partners: Vec<&str> = found.iter().map(|t| t.partner_id.as_str()).collect();
                return Err(Error::InvalidRequest {
                    field: "partner_id",
                    message: format!(
                        "transaction {tx_id} exists at partners {}: say which",
                        partners.join(", ")
                    ),
                });
            }
        };
        let correction = Correction {
            customer_id: customer.clone(),
            partner_id: stored.partner_id.clone(),
            merchant: merchant_of(&stored.transaction.description),
            transaction: stored.transaction.clone(),
            category: request.category,
            sub_category: request.sub_category,
            previous_category: stored.prediction.category.clone(),
            previous_source: stored.prediction.source.clone(),
            // To the microsecond, which every store keeps and orders by.
            corrected_at: Utc::now().trunc_subsecs(6),
        };
        // The correction first: if the process dies before the transaction is rewritten,
        // the next job of the customer still applies it.
        store.put_correction(&correction).await?;
        let transaction = ClassifiedTransaction {
            prediction: Taxonomy::builtin().decided(
                correction.category.clone(),
                correction.sub_category.clone(),
                stored.prediction.merchant.clone(),
                Source::User,
            ),
            ..stored
        };
        store.upsert(std::slice::from_ref(&transaction)).await?;
        let spending = self.month_spending(customer, &transaction).await?;
        let (suggested_rule, rule_created) = self.suggest_rule(&correction).await?;
        Ok(CorrectionOutcome {
            transaction,
            correction,
            spending,
            suggested_rule,
            rule_created,
        })
    }

    /// Corrections, newest first (an export for `txclass train --corrections`).
    pub async fn corrections(&self, q: &CorrectionQuery) -> Result<Vec<Correction>> {
        Ok(self.data.corrections(q).await?)
    }

    /// The customer's spending in the month of `tx`.
    async fn month_spending(
        &self,
        customer: &CustomerId,
        tx: &ClassifiedTransaction,
    ) -> Result<Vec<SpendingRow>> {
        let date = tx.transaction.date;
        let first = date.with_day(1).expect("day 1 exists");
        let last = first
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(date);
        Ok(self
            .data
            .spending(&SpendingQuery {
                customer_id: customer.clone(),
                from: Some(first),
                to: Some(last),
                level: Default::default(),
            })
            .await?)
    }

    /// The rule the newest corrections of `c`'s merchant call for (and whether it was
    /// created), unless the customer has a rule with its id already.
    async fn suggest_rule(&self, c: &Correction) -> Result<(Option<Rule>, bool)> {
        let k = self.inner.settings.corrections.suggest_rule_after;
        if k == 0 {
            return Ok((None, false));
        }
        let newest = self
            .data
            .corrections(&CorrectionQuery {
                customer_id: Some(c.customer_id.clone()),
                merchant: Some(c.merchant.clone()),
                limit: k.min(MAX_CORRECTIONS),
            })
            .await?;
        let Some(rule) = suggested_rule(&newest, k as usize) else {
            return Ok((None, false));
        };
        if self.data.get_rule(&rule.id).await?.is_some() {
            return Ok((None, false));
        }
        if !self.inner.settings.corrections.create_rules {
            return Ok((Some(rule), false));
        }
        match self.data.create_rule(&rule).await {
            Ok(()) => Ok((Some(rule), true)),
            // Another instance created it a moment ago.
            Err(StoreError::Conflict(_)) => Ok((None, false)),
            Err(e) => Err(e.into()),
        }
    }
}
