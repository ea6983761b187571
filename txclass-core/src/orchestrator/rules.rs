//! Rules and enrichment as the shells use them: rules CRUD through the store (validated
//! here, so no shell decides what a good rule is), the compiled set a job runs, and enrich
//! calls.

use std::sync::Arc;

use super::{Inner, Orchestrator};
use crate::domain::{CustomerId, TenantId};
use crate::enrich::{self, EnrichRequest, EnrichResponse, MAX_ENRICH_ROWS};
use crate::rules::{self, Rule, RuleError, RuleSet};
use crate::store::{CorrectionQuery, RuleFilter, Store, StoreError, MAX_CORRECTIONS};
use crate::{Error, Result};

impl Inner {
    /// The rules a job of `customer` runs (the global ones and the customer's), compiled
    /// once. A stored rule that no longer compiles (written by another version) is left
    /// out with a warning rather than failing every job.
    pub(crate) async fn rules_for(
        &self,
        tenant: &TenantId,
        customer: Option<&CustomerId>,
    ) -> std::result::Result<Arc<RuleSet>, StoreError> {
        let filter = match customer {
            Some(c) => RuleFilter::AppliesTo(c.clone()),
            None => RuleFilter::All,
        };
        let stored = self.data(tenant).rules(&filter).await?;
        let stored = stored
            .into_iter()
            .filter(|r| customer.is_some() || r.scope.applies_to(None));
        let (set, refused) = RuleSet::compile_valid(stored);
        for e in refused {
            tracing::warn!(rule = %e.rule, field = %e.field, error = %e.message, "stored rule left out");
        }
        Ok(Arc::new(set))
    }

    /// What a job of `customer` classifies with: the rules it runs and, on top of them, the
    /// customer's corrections (so a transaction fetched again keeps the user's category).
    pub(crate) async fn job_rules(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> std::result::Result<Arc<RuleSet>, StoreError> {
        let rules = self.rules_for(tenant, Some(customer)).await?;
        let corrections = self
            .data(tenant)
            .corrections(&CorrectionQuery {
                customer_id: Some(customer.clone()),
                merchant: None,
                limit: MAX_CORRECTIONS,
            })
            .await?;
        if corrections.is_empty() {
            return Ok(rules);
        }
        Ok(Arc::new(
            Arc::unwrap_or_clone(rules).with_corrections(corrections),
        ))
    }
}

/// A rule checked as a request: valid, and its regular expression compiles.
fn checked(rule: Rule) -> Result<Rule> {
    let rule = rule.validate("body")?;
    RuleSet::compile([rule.clone()])?;
    Ok(rule)
}

impl Orchestrator {
    /// Rules by id: every rule, or those a customer's jobs run.
    pub async fn list_rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>> {
        Ok(self.data.rules(filter).await?)
    }

    /// Stores a new rule (an id is given when it has none) and returns it as stored.
    /// [`Error::InvalidRule`] names the field at fault; [`Error::RuleExists`] when the id is
    /// taken.
    pub async fn create_rule(&self, mut rule: Rule) -> Result<Rule> {
        if rule.id.is_empty() {
            rule.id = rules::new_id();
        }
        let rule = checked(rule)?;
        match self.data.create_rule(&rule).await {
            Ok(()) => Ok(rule),
            Err(StoreError::Conflict(_)) => Err(Error::RuleExists(rule.id)),
            Err(e) => Err(e.into()),
        }
    }

    /// A rule by id.
    pub async fn rule(&self, id: &str) -> Result<Option<Rule>> {
        Ok(self.data.get_rule(id).await?)
    }

    /// Replaces the rule `id` ([`Error::UnknownRule`] when there is none). The body's id,
    /// when given, must be `id`.
    pub async fn update_rule(&self, id: &str, mut rule: Rule) -> Result<Rule> {
        if rule.id.is_empty() {
            rule.id = id.to_owned();
        } else if rule.id != id {
            return Err(RuleError {
                rule: id.to_owned(),
                field: "id".into(),
                message: format!("the body's id {:?} is not the path's {id:?}", rule.id),
            }
            .into());
        }
        let rule = checked(rule)?;
        if self.data.get_rule(id).await?.is_none() {
            return Err(Error::UnknownRule(id.to_owned()));
        }
        self.data.put_rule(&rule).await?;
        Ok(rule)
    }

    /// Deletes a rule ([`Error::UnknownRule`] when there is none).
    pub async fn delete_rule(&self, id: &str) -> Result<()> {
        if self.data.delete_rule(id).await? {
            Ok(())
        } else {
            Err(Error::UnknownRule(id.to_owned()))
        }
    }

    /// Classifies transactions a client already holds, through the global rules and the
    /// request's customer's, and the model (with `explain`, each with why); nothing is
    /// stored. More than [`MAX_ENRICH_ROWS`] rows is [`Error::TooManyRows`].
    pub async fn enrich(&self, request: EnrichRequest, explain: bool) -> Result<EnrichResponse> {
        let got = request.transactions.len();
        if got > MAX_ENRICH_ROWS {
            return Err(Error::TooManyRows {
                field: "transactions",
                got,
                limit: MAX_ENRICH_ROWS,
            });
        }
        let rules = self
            .inner
            .rules_for(&self.tenant, request.customer_id.as_ref())
            .await?;
        let classifier = self.inner.classifier.clone();
        // CPU work: off the I/O threads.
        tokio::task::spawn_blocking(move || {
            enrich::enrich(&rules, classifier.as_ref(), &request.transactions, explain)
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))
    }
}
