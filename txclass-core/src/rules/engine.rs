//! The compiled rule set and the one classification path: pre rules, the model for what
//! they left, post rules.

use std::collections::{HashMap, HashSet};

use regex::{Regex, RegexBuilder};

use super::{Rule, RuleError, Sign, Stage};
use crate::classifier::Classifier;
use crate::currency::Currency;
use crate::domain::correction::Correction;
use crate::domain::taxonomy::Taxonomy;
use crate::domain::{Category, PartnerId, Prediction, Source, Transaction};
use crate::merchant::merchant_of;

/// Most memory one compiled regular expression may take (the `regex` crate's size limit):
/// a rule from an API client cannot make the server build a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Rules ready to run: validated, regular expressions compiled, in stage and order. Build
/// one per job (or per file, per enrich call), not per transaction.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pre: Vec<Compiled>,
    post: Vec<Compiled>,
    /// The user's corrections by `(partner, transaction id)`: category and sub-category.
    corrected: HashMap<(PartnerId, String), (Category, Option<Category>)>,
}

#[derive(Clone, Debug)]
struct Compiled {
    rule: Rule,
    /// `description_contains`, lower-cased.
    contains: Option<String>,
    regex: Option<Regex>,
    /// `merchant_is`, as [`merchant_of`] writes merchants (upper case, words).
    merchant: Option<String>,
}

/// What running the rules and the model on one transaction came to, for `txclass rules
/// test` and explanations.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The ids of the rules that matched, in the order they ran.
    pub fired: Vec<String>,
    /// The model's answer, when it was asked (no pre rule set a category).
    pub model: Option<Prediction>,
    /// The final answer.
    pub prediction: Prediction,
}

/// Where one transaction is while the rules run.
#[derive(Default)]
struct State {
    category: Option<Category>,
    sub_category: Option<Category>,
    merchant: Option<String>,
    /// The rule (or the user) that set the category.
    source: Option<Source>,
    fired: Vec<String>,
    stopped: bool,
}

/// One transaction, with what the conditions look at computed once.
struct Subject<'a> {
    tx: &'a Transaction,
    partner: Option<&'a PartnerId>,
    lower: std::cell::OnceCell<String>,
    merchant: std::cell::OnceCell<String>,
    minor_units: Option<u8>,
}

impl<'a> Subject<'a> {
    fn new(tx: &'a Transaction, partner: Option<&'a PartnerId>) -> Self {
        Self {
            tx,
            partner,
            lower: Default::default(),
            merchant: Default::default(),
            minor_units: Currency::from_code(&tx.currency).map(|c| c.minor_units()),
        }
    }
}

impl Compiled {
    fn new(rule: Rule) -> Result<Self, RuleError> {
        let c = &rule.conditions;
        let regex = match &c.description_matches {
            Some(p) => Some(
                RegexBuilder::new(p)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| {
                        RuleError::new(
                            &rule.id,
                            "conditions.description_matches",
                            format!("bad regular expression: {e}"),
                        )
                    })?,
            ),
            None => None,
        };
        Ok(Self {
            contains: c.description_contains.as_deref().map(str::to_lowercase),
            merchant: c.merchant_is.as_deref().map(merchant_of),
            regex,
            rule,
        })
    }

    fn matches(&self, s: &Subject<'_>, category: Option<&Category>) -> bool {
        let c = &self.rule.conditions;
        let tx = s.tx;
        if let Some(want) = &c.currency {
            if !want.eq_ignore_ascii_case(&tx.currency) {
                return false;
            }
        }
        if let Some(want) = &c.partner_id {
            if s.partner != Some(want) {
                return false;
            }
        }
        if let Some(sign) = c.sign {
            let out = tx.amount_minor < 0;
            if out != (sign == Sign::Out) {
                return false;
            }
        }
        if c.amount_min.is_some() || c.amount_max.is_some() {
            // An amount in a currency the table does not know cannot be compared.
            let Some(mu) = s.minor_units else {
                return false;
            };
            if c.amount_min
                .is_some_and(|m| m.cmp_minor(tx.amount_minor, mu).is_lt())
                || c.amount_max
                    .is_some_and(|m| m.cmp_minor(tx.amount_minor, mu).is_gt())
            {
                return false;
            }
        }
        if let Some(want) = &c.category {
            if category != Some(want) {
                return false;
            }
        }
        if let Some(needle) = &self.contains {
            if !s
                .lower
                .get_or_init(|| tx.description.to_lowercase())
                .contains(needle.as_str())
            {
                return false;
            }
        }
        if let Some(m) = &self.merchant {
            if s.merchant.get_or_init(|| merchant_of(&tx.description)) != m {
                return false;
            }
        }
        if let Some(re) = &self.regex {
            if !re.is_match(&tx.description) {
                return false;
            }
        }
        true
    }

    fn apply(&self, st: &mut State) {
        let a = &self.rule.action;
        if let Some(cat) = &a.category {
            st.category = Some(cat.clone());
            // A sub-category belongs to the category it was given with.
            st.sub_category = a.sub_category.clone();
            st.source = Some(Source::Rule(self.rule.id.clone()));
        }
        if let Some(m) = &a.merchant {
            st.merchant = Some(m.clone());
        }
        st.fired.push(self.rule.id.clone());
        st.stopped = self.rule.stop_processing;
    }
}

fn run(rules: &[Compiled], s: &Subject<'_>, st: &mut State) {
    for r in rules {
        if st.stopped {
            return;
        }
        if r.matches(s, st.category.as_ref()) {
            r.apply(st);
        }
    }
}

impl RuleSet {
    /// No rules: every transaction goes to the model.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Validates and compiles `rules` (each regular expression once) and orders each stage
    /// by `order`, then id. Fails on the first bad rule, naming its field, and on two rules
    /// with one id.
    pub fn compile(rules: impl IntoIterator<Item = Rule>) -> Result<Self, RuleError> {
        let mut compiled = Vec::new();
        let mut ids = HashSet::new();
        for (i, rule) in rules.into_iter().enumerate() {
            let rule = rule.validate(&format!("rules[{i}]"))?;
            if !ids.insert(rule.id.clone()) {
                return Err(RuleError::new(&rule.id, "id", "two rules have this id"));
            }
            compiled.push(Compiled::new(rule)?);
        }
        Ok(Self::from_compiled(compiled))
    }

    /// Compiles the rules that are valid and returns the errors of the others (which are
    /// left out): for rules read back from a store, where one bad rule must not stop every
    /// job. A second rule with an id already seen is left out too.
    pub fn compile_valid(rules: impl IntoIterator<Item = Rule>) -> (Self, Vec<RuleError>) {
        let mut compiled = Vec::new();
        let mut refused = Vec::new();
        let mut ids = HashSet::new();
        for (i, rule) in rules.into_iter().enumerate() {
            match rule
                .validate(&format!("rules[{i}]"))
                .and_then(Compiled::new)
            {
                Ok(c) if ids.insert(c.rule.id.clone()) => compiled.push(c),
                Ok(c) => refused.push(RuleError::new(&c.rule.id, "id", "two rules have this id")),
                Err(e) => refused.push(e),
            }
        }
        (Self::from_compiled(compiled), refused)
    }

    fn from_compiled(compiled: Vec<Compiled>) -> Self {
        let mut set = Self::default();
        for c in compiled {
            match c.rule.stage {
                Stage::Pre => set.pre.push(c),
                Stage::Post => set.post.push(c),
            }
        }
        for stage in [&mut set.pre, &mut set.post] {
            stage.sort_by(|a, b| (a.rule.order, &a.rule.id).cmp(&(b.rule.order, &b.rule.id)));
        }
        set
    }

    /// The same rules, with the user's `corrections` on top: a transaction a user corrected
    /// (same partner and id) keeps the user's category and sub-category, source
    /// [`Source::User`], whatever the rules and the model say; no rule runs for it. The
    /// newest correction of a transaction counts (`corrections` newest first, as
    /// [`Store::corrections`](crate::Store::corrections) lists them).
    pub fn with_corrections(mut self, corrections: impl IntoIterator<Item = Correction>) -> Self {
        for c in corrections {
            self.corrected
                .entry((c.partner_id, c.transaction.id))
                .or_insert((c.category, c.sub_category));
        }
        self
    }

    /// Rules in the set.
    pub fn len(&self) -> usize {
        self.pre.len() + self.post.len()
    }

    /// Whether the set has no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rules, pre stage first, each stage in the order it runs.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.pre.iter().chain(&self.post).map(|c| &c.rule)
    }

    /// Classifies `txs` (from `partner`, when there is one): pre rules, then the model in
    /// one batch for the transactions no pre rule gave a category, then post rules. Every
    /// classification of the project goes through here: jobs, the retry worker, the CLI
    /// and the enrich API.
    pub fn classify(
        &self,
        classifier: &dyn Classifier,
        txs: &[Transaction],
        partner: Option<&PartnerId>,
    ) -> Vec<Prediction> {
        self.trace_all(classifier, txs, partner)
            .into_iter()
            .map(|t| t.prediction)
            .collect()
    }

    /// [`classify`](Self::classify) one transaction, saying which rules fired and what the
    /// model said.
    pub fn trace(
        &self,
        classifier: &dyn Classifier,
        tx: &Transaction,
        partner: Option<&PartnerId>,
    ) -> Trace {
        self.trace_all(classifier, std::slice::from_ref(tx), partner)
            .pop()
            .expect("one transaction in, one out")
    }

    fn trace_all(
        &self,
        classifier: &dyn Classifier,
        txs: &[Transaction],
        partner: Option<&PartnerId>,
    ) -> Vec<Trace> {
        let subjects: Vec<Subject<'_>> = txs.iter().map(|t| Subject::new(t, partner)).collect();
        let mut states: Vec<State> = subjects
            .iter()
            .map(|s| {
                let mut st = State::default();
                let corrected = s
                    .partner
                    .filter(|_| !self.corrected.is_empty())
                    .and_then(|p| self.corrected.get(&(p.clone(), s.tx.id.clone())));
                match corrected {
                    Some((category, sub_category)) => {
                        st.category = Some(category.clone());
                        st.sub_category = sub_category.clone();
                        st.source = Some(Source::User);
                        st.stopped = true;
                    }
                    None => run(&self.pre, s, &mut st),
                }
                st
            })
            .collect();
        // The model, in one batch, for what the pre rules left.
        let need: Vec<usize> = (0..txs.len())
            .filter(|&i| states[i].category.is_none())
            .collect();
        let mut model: Vec<Option<Prediction>> = vec![None; txs.len()];
        if need.len() == txs.len() {
            for (slot, p) in model.iter_mut().zip(classifier.predict_batch(txs)) {
                *slot = Some(p);
            }
        } else if !need.is_empty() {
            let batch: Vec<Transaction> = need.iter().map(|&i| txs[i].clone()).collect();
            for (&i, p) in need.iter().zip(classifier.predict_batch(&batch)) {
                model[i] = Some(p);
            }
        }
        subjects
            .iter()
            .zip(states.iter_mut())
            .zip(model)
            .map(|((s, st), model)| {
                if let Some(m) = &model {
                    st.category = Some(m.category.clone());
                }
                if !st.stopped {
                    run(&self.post, s, st);
                }
                let prediction = match (&st.source, &model) {
                    // The model's answer stands (a rule may still have named the merchant).
                    (None, Some(m)) => Prediction {
                        merchant: st.merchant.clone(),
                        ..m.clone()
                    },
                    (Some(source), _) => Taxonomy::builtin().decided(
                        st.category.clone().expect("a rule or the user set it"),
                        st.sub_category.clone(),
                        st.merchant.clone(),
                        source.clone(),
                    ),
                    (None, None) => unreachable!("no pre rule set a category, so the model ran"),
                };
                Trace {
                    fired: std::mem::take(&mut st.fired),
                    model,
                    prediction,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::FirstWord;
    use crate::rules::{Action, Conditions, RuleScope};

    fn model() -> FirstWord {
        FirstWord::default()
    }

    fn tx(description: &str, amount_minor: i64, currency: &str) -> Transaction {
        Transaction {
            id: description.into(),
            date: "2026-01-02".parse().unwrap(),
            description: description.into(),
            amount_minor,
            currency: currency.into(),
        }
    }

    fn rule(id: &str, stage: Stage, order: i64, conditions: Conditions, category: &str) -> Rule {
        Rule {
            id: id.into(),
            scope: RuleScope::Global,
            stage,
            order,
            conditions,
            action: Action {
                category: Some(Category::new(category)),
                ..Action::default()
            },
            stop_processing: false,
        }
    }

    fn contains(t: &str) -> Conditions {
        Conditions {
            description_contains: Some(t.into()),
            ..Conditions::default()
        }
    }

    #[test]
    fn a_pre_rule_wins_and_the_model_is_not_asked_for_its_rows() {
        let set =
            RuleSet::compile([rule("rent", Stage::Pre, 0, contains("aluguel"), "rent")]).unwrap();
        let m = model();
        let txs = [
            tx("PIX ALUGUEL MARIA", -150000, "BRL"),
            tx("FUEL SHELL", -5000, "BRL"),
        ];
        let out = set.classify(&m, &txs, None);
        assert_eq!(out[0].category.as_str(), "rent");
        assert_eq!(out[0].source, Source::Rule("rent".into()));
        assert_eq!((out[0].probability, out[0].uncertain), (1.0, false));
        assert_eq!(out[1].category.as_str(), "fuel");
        assert_eq!(out[1].source, Source::Model);
        assert_eq!(
            *m.batches.lock().unwrap(),
            [1],
            "only the row no rule took went to the model"
        );
    }

    #[test]
    fn order_then_id_decides_and_stop_processing_stops() {
        let mut first = rule("b-first", Stage::Pre, 1, contains("shop"), "shopping");
        let second = rule("a-second", Stage::Pre, 2, contains("shop"), "groceries");
        let set = RuleSet::compile([second.clone(), first.clone()]).unwrap();
        let m = model();
        let t = set.trace(&m, &tx("SHOP 1", -100, "EUR"), None);
        // Both fire in order; the later one's category stands.
        assert_eq!(t.fired, ["b-first", "a-second"]);
        assert_eq!(t.prediction.source, Source::Rule("a-second".into()));
        first.stop_processing = true;
        let set = RuleSet::compile([second, first]).unwrap();
        let t = set.trace(&m, &tx("SHOP 1", -100, "EUR"), None);
        assert_eq!(t.fired, ["b-first"]);
        assert_eq!(t.prediction.category.as_str(), "shopping");
        assert!(t.model.is_none());
    }

    #[test]
    fn post_rules_adjust_the_models_output() {
        let fix = rule(
            "unsure-fuel",
            Stage::Post,
            0,
            Conditions {
                category: Some(Category::new(Category::UNCERTAIN)),
                description_matches: Some(r"posto\s+\w+".into()),
                ..Conditions::default()
            },
            "fuel",
        );
        let set = RuleSet::compile([fix]).unwrap();
        let m = model();
        let t = set.trace(&m, &tx("MAYBE Posto Ipiranga", -100, "BRL"), None);
        assert_eq!(t.model.as_ref().unwrap().category.as_str(), "uncertain");
        assert_eq!(t.prediction.category.as_str(), "fuel");
        assert_eq!(t.prediction.source, Source::Rule("unsure-fuel".into()));
        // A confident model answer does not match the condition.
        let t = set.trace(&m, &tx("GROCERIES Posto Ipiranga", -100, "BRL"), None);
        assert_eq!(t.prediction.source, Source::Model);
        assert!(t.fired.is_empty());
    }

    #[test]
    fn amounts_signs_currencies_partners_and_merchants() {
        let big_out = Conditions {
            amount_max: Some("-100.00".parse().unwrap()),
            sign: Some(Sign::Out),
            currency: Some("BRL".into()),
            ..Conditions::default()
        };
        let from_bank = Conditions {
            partner_id: Some("bank".into()),
            merchant_is: Some("padaria sao paulo".into()),
            ..Conditions::default()
        };
        let set = RuleSet::compile([
            rule("big", Stage::Pre, 0, big_out, "big"),
            rule("bakery", Stage::Pre, 1, from_bank, "bakery"),
        ])
        .unwrap();
        let m = model();
        let cat = |t: &Transaction, p: Option<&PartnerId>| {
            set.classify(&m, std::slice::from_ref(t), p)[0]
                .category
                .0
                .clone()
        };
        assert_eq!(cat(&tx("X", -10000, "BRL"), None), "big");
        assert_eq!(cat(&tx("X", -9999, "BRL"), None), "x");
        assert_eq!(cat(&tx("X", -10000, "EUR"), None), "x", "another currency");
        assert_eq!(cat(&tx("X", -10000, "XXX"), None), "x", "unknown currency");
        let bakery = tx("COMPRA CARTAO PAG*PADARIA SAO PAULO 0412", -500, "BRL");
        let bank = PartnerId::new("bank");
        assert_eq!(cat(&bakery, Some(&bank)), "bakery");
        assert_eq!(cat(&bakery, Some(&PartnerId::new("other"))), "compra");
        assert_eq!(
            cat(&bakery, None),
            "compra",
            "no partner: a partner condition never holds"
        );
    }

    #[test]
    fn a_merchant_only_rule_keeps_the_models_category() {
        let mut r = rule("netflix", Stage::Pre, 0, contains("netflix"), "x");
        r.action = Action {
            merchant: Some("Netflix".into()),
            ..Action::default()
        };
        let set = RuleSet::compile([r]).unwrap();
        let p = set.classify(&model(), &[tx("SUBS NETFLIX.COM", -3990, "BRL")], None);
        assert_eq!(p[0].category.as_str(), "subs");
        assert_eq!(p[0].source, Source::Model);
        assert_eq!(p[0].merchant.as_deref(), Some("Netflix"));
    }

    #[test]
    fn bad_rules_are_refused_with_their_field() {
        let bad = rule(
            "re",
            Stage::Pre,
            0,
            Conditions {
                description_matches: Some("(unclosed".into()),
                ..Conditions::default()
            },
            "x",
        );
        let e = RuleSet::compile([bad]).unwrap_err();
        assert_eq!(
            (e.rule.as_str(), e.field.as_str()),
            ("re", "conditions.description_matches")
        );
        assert!(e.message.contains("regular expression"), "{e}");
        let a = rule("same", Stage::Pre, 0, contains("a"), "x");
        let e = RuleSet::compile([a.clone(), a]).unwrap_err();
        assert_eq!(e.field, "id");
    }
}
