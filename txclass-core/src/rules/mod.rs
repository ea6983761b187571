//! Rules that override the model: conditions on a transaction (description contains or
//! matches, merchant, amount range, sign, partner, currency, the category so far) and an
//! action (category, sub-category, clean merchant name).
//!
//! ## How rules run
//!
//! Like Actual Budget's, in two stages, each in ascending `order` (then id):
//!
//! 1. **pre** rules run first; if one sets a category, it wins and the model is not asked
//!    for that transaction;
//! 2. the model classifies the rest (one batch);
//! 3. **post** rules adjust the result (a `category` condition sees the model's label,
//!    `uncertain` included).
//!
//! Every matching rule applies its action in turn, so a later rule's category wins over an
//! earlier one's; `stop_processing` ends the run for that transaction (a pre rule's also
//! skips the post stage). A transaction records what set its category: `rule:<id>` or
//! `model` ([`Source`](crate::domain::Source)); a rule's category has probability 1.
//!
//! ## Where rules live
//!
//! In the [`Store`](crate::Store) (global rules, and rules of one customer: a job uses the
//! global ones and its customer's, compiled once when the job starts) and, for the CLI, in
//! a TOML file ([`load_rules`]). [`RuleSet`] is the one place where rules meet the model:
//! jobs, the retry worker, `txclass classify` and the enrich API all classify through
//! [`RuleSet::classify`].
//!
//! | module | what |
//! |---|---|
//! | `crate::domain::rule` | [`Rule`] and its parts, [`Rule::validate`], [`RuleError`] (data, below the store) |
//! | `engine` | [`RuleSet`]: compiled rules, [`RuleSet::classify`], [`RuleSet::trace`] |
//! | `file` | the TOML rules file |

mod engine;
mod file;

pub use crate::domain::rule::{
    valid_id, Action, Conditions, Decimal, Rule, RuleError, RuleScope, Sign, Stage, MAX_PATTERN,
    MAX_TEXT,
};
pub use engine::{RuleSet, Trace};
pub use file::{load_rules, parse_rules, RulesFileError};

/// A new rule id, for a rule created without one.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
