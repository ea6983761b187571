//! What a rule is: conditions, an action, its stage, order and scope. Plain data, checked
//! by [`Rule::validate`] and turned into a matcher by [`RuleSet`](crate::rules::RuleSet)
//! (here, below the store that keeps rules and the engine that runs them).

use std::fmt;

use serde::{Deserialize, Serialize};

use thiserror::Error;

use super::{Category, CustomerId, PartnerId};
use crate::currency::Currency;

/// A rule that cannot be used: which rule, which field, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("rule {rule}: {field}: {message}")]
pub struct RuleError {
    /// The rule's id, or where it is when it has none yet (`rules[2]` in a file, `body` in a
    /// request).
    pub rule: String,
    /// The field at fault, as a path: `conditions.description_matches`, `action.category`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl RuleError {
    pub(crate) fn new(
        rule: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Longest rule id, category, merchant name or text condition.
pub const MAX_TEXT: usize = 200;
/// Longest regular expression.
pub const MAX_PATTERN: usize = 1000;

/// A rule: when every condition holds for a transaction, its action applies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "id": "rent-landlord",
    "conditions": {"description_contains": "aluguel", "sign": "out"},
    "action": {"category": "rent"}
})))]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique id (letters, digits, `.`, `_`, `-`): a transaction it classified records
    /// `rule:<id>` as its source. Given by the store when a rule is created without one.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._-]{0,200}$"))]
    pub id: String,
    /// Whose transactions it applies to.
    #[serde(default)]
    pub scope: RuleScope,
    /// Before the model (and instead of it) or after it.
    #[serde(default)]
    pub stage: Stage,
    /// Rules of a stage run by ascending `order`, then by id.
    #[serde(default)]
    pub order: i64,
    /// What must hold (all of it).
    pub conditions: Conditions,
    /// What it does.
    pub action: Action,
    /// No rule after this one runs for a transaction it matched (nor the post stage, for a
    /// pre rule).
    #[serde(default)]
    pub stop_processing: bool,
}

/// Whose transactions a rule applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleScope {
    /// Everyone's (in the CLI: every row of the file).
    #[default]
    Global,
    /// One customer's.
    Customer {
        /// The customer.
        customer_id: CustomerId,
    },
}

impl RuleScope {
    /// Whether a rule of this scope applies to `customer`'s transactions (`None`: no
    /// customer, as in the CLI or an enrich call without one: global rules only).
    pub fn applies_to(&self, customer: Option<&CustomerId>) -> bool {
        match self {
            RuleScope::Global => true,
            RuleScope::Customer { customer_id } => Some(customer_id) == customer,
        }
    }
}

/// When a rule runs.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Before the model: a pre rule that sets a category wins, and the model is not asked.
    #[default]
    Pre,
    /// After the model: adjusts its output (a `category` condition sees the model's label).
    Post,
}

/// Conditions of a rule; every one given must hold. Text comparisons ignore case.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(min_properties = 1))]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// The description contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"\S", min_length = 1, max_length = 200)
    )]
    pub description_contains: Option<String>,
    /// The description matches this regular expression (`regex` crate syntax,
    /// case-insensitive unless it says `(?-i)`; unanchored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"\S", min_length = 1, max_length = 1000)
    )]
    pub description_matches: Option<String>,
    /// The merchant named by the description ([`merchant_of`](crate::merchant::merchant_of))
    /// is this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"\S", min_length = 1, max_length = 200)
    )]
    pub merchant_is: Option<String>,
    /// The signed amount is at least this, in major units of the transaction's currency
    /// (`"-100.00"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_min: Option<Decimal>,
    /// The signed amount is at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_max: Option<Decimal>,
    /// Money in (zero counts as in) or out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<Sign>,
    /// The transaction came from this partner (never holds where there is no partner: the
    /// CLI, the enrich API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<PartnerId>,
    /// The transaction's currency (ISO 4217).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z]{3}$"))]
    pub currency: Option<String>,
    /// The category so far is this one: in the post stage the model's (or a pre rule's),
    /// `"uncertain"` included; in the pre stage one an earlier pre rule set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
}

/// What a rule does; at least one part.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(min_properties = 1))]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The category to give: a main category, or a `main/sub` label (then stored as the
    /// main category and `sub_category`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// The sub-category to give: a full `main/sub` label, or a sub id of `category`; held
    /// to the built-in taxonomy when the category is one of its (see [`crate::domain::taxonomy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<Category>,
    /// A clean merchant name (`"Netflix"` for `"NETFLIX.COM 8829 AMSTERDAM"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"\S", min_length = 1, max_length = 200)
    )]
    pub merchant: Option<String>,
}

/// Money in or out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Sign {
    /// Amount ≥ 0.
    In,
    /// Amount < 0.
    Out,
}

/// An exact decimal amount in major units (`-12.50`), read from a string or a number and
/// written as a string. Compared with a transaction's minor units through its currency's
/// ISO 4217 minor units, so `12.5` means 1250 cents of a euro and 12.5 yen (which no
/// amount equals).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    /// The digits as an integer (`-1250` for `-12.50`).
    mantissa: i128,
    /// Digits after the point (`2` for `-12.50`).
    scale: u32,
}

/// Most digits after the point a rule's amount may have.
const MAX_SCALE: u32 = 9;

impl Decimal {
    /// Whether `minor` units of a currency with `minor_units` decimals are below (`Less`),
    /// equal to or above this amount.
    pub fn cmp_minor(&self, minor: i64, minor_units: u8) -> std::cmp::Ordering {
        // Both sides at scale `scale + minor_units`: minor × 10^scale vs mantissa × 10^mu.
        let left = i128::from(minor) * 10i128.pow(self.scale);
        let right = self.mantissa * 10i128.pow(u32::from(minor_units));
        left.cmp(&right)
    }
}

impl std::str::FromStr for Decimal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a decimal amount (like -12.50)");
        let t = s.trim();
        let (negative, body) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty()
            || !digits(int)
            || !digits(frac)
            || (body.contains('.') && frac.is_empty())
        {
            return Err(bad());
        }
        if frac.len() > MAX_SCALE as usize || int.len() > 18 {
            return Err(format!("{s:?} has too many digits"));
        }
        let mantissa: i128 = format!("{int}{frac}").parse().map_err(|_| bad())?;
        Ok(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: frac.len() as u32,
        })
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

impl Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read as a string or a number; always written as a string.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Decimal {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{SchemaType, Type};
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
            // Applies to the string form only.
            .pattern(Some(r"^[+-]?[0-9]{1,18}(\.[0-9]{1,9})?$"))
            .description(Some(
                "An exact amount in major units of the transaction's currency (`\"-12.50\"`); \
                 a number is taken too, and it is written back as a string.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Decimal {}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount as a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
                // Rust prints the shortest text that reads back as `v`: `12.5`, not
                // `12.4999…`.
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn check_text(rule: &str, field: &str, value: &str, max: usize) -> Result<(), RuleError> {
    if value.trim().is_empty() {
        return Err(RuleError::new(rule, field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(RuleError::new(
            rule,
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

/// Whether `id` can name a rule: 1 to [`MAX_TEXT`] letters, digits, `.`, `_` or `-`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_TEXT
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Rule {
    /// Checks everything but the regular expression's syntax (which
    /// [`RuleSet::compile`](crate::rules::RuleSet::compile) checks by compiling it) and returns
    /// the rule normalised (currency codes upper-cased). `where_` names the rule in errors
    /// when it has no id yet.
    pub fn validate(mut self, where_: &str) -> Result<Rule, RuleError> {
        let name = if self.id.is_empty() {
            where_.to_owned()
        } else {
            self.id.clone()
        };
        let r = name.as_str();
        if !valid_id(&self.id) {
            return Err(RuleError::new(
                r,
                "id",
                format!(
                    "{:?} is not a rule id (1 to {MAX_TEXT} letters, digits, '.', '_' or '-')",
                    self.id
                ),
            ));
        }
        if let RuleScope::Customer { customer_id } = &self.scope {
            check_text(r, "scope.customer_id", customer_id.as_str(), MAX_TEXT)?;
        }
        let c = &mut self.conditions;
        if let Some(t) = &c.description_contains {
            check_text(r, "conditions.description_contains", t, MAX_TEXT)?;
        }
        if let Some(t) = &c.description_matches {
            check_text(r, "conditions.description_matches", t, MAX_PATTERN)?;
        }
        if let Some(t) = &c.merchant_is {
            check_text(r, "conditions.merchant_is", t, MAX_TEXT)?;
        }
        if let Some(p) = &c.partner_id {
            check_text(r, "conditions.partner_id", p.as_str(), MAX_TEXT)?;
        }
        if let Some(cat) = &c.category {
            check_text(r, "conditions.category", cat.as_str(), MAX_TEXT)?;
        }
        if let Some(code) = &mut c.currency {
            match Currency::from_code(code) {
                Some(cur) => *code = cur.code().to_owned(),
                None => {
                    return Err(RuleError::new(
                        r,
                        "conditions.currency",
                        format!("{code:?} is not an ISO 4217 currency code"),
                    ))
                }
            }
        }
        if let (Some(min), Some(max)) = (&c.amount_min, &c.amount_max) {
            // Compare at a common scale: min ≤ max.
            let scale = min.scale.max(max.scale);
            let at = |d: &Decimal| d.mantissa * 10i128.pow(scale - d.scale);
            if at(min) > at(max) {
                return Err(RuleError::new(
                    r,
                    "conditions.amount_min",
                    format!("{min} is above amount_max {max}"),
                ));
            }
        }
        if *c == Conditions::default() {
            return Err(RuleError::new(
                r,
                "conditions",
                "give at least one condition (a rule for every transaction is a mistake more often than not)",
            ));
        }
        let a = &mut self.action;
        let taxonomy = crate::domain::taxonomy::Taxonomy::builtin();
        let category = a.category.as_ref().map(Category::as_str);
        if let Some(cat) = category {
            check_text(r, "action.category", cat, MAX_TEXT)?;
            taxonomy
                .resolve(category, None)
                .map_err(|m| RuleError::new(r, "action.category", m))?;
        }
        if let Some(sub) = &a.sub_category {
            check_text(r, "action.sub_category", sub.as_str(), MAX_TEXT)?;
        }
        // Stored as the main category and the full `main/sub` label, whichever way the
        // rule wrote them (`restaurants/coffee`, or `restaurants` and `coffee`).
        let (category, sub_category) = taxonomy
            .resolve(category, a.sub_category.as_ref().map(Category::as_str))
            .map_err(|m| RuleError::new(r, "action.sub_category", m))?;
        (a.category, a.sub_category) = (category, sub_category);
        if let Some(m) = &a.merchant {
            check_text(r, "action.merchant", m, MAX_TEXT)?;
        }
        if *a == Action::default() {
            return Err(RuleError::new(
                r,
                "action",
                "give a category, a sub-category or a merchant",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn decimals_read_exactly_and_compare_through_minor_units() {
        let d: Decimal = "-12.50".parse().unwrap();
        assert_eq!(d.to_string(), "-12.50");
        assert_eq!(d.cmp_minor(-1250, 2), Ordering::Equal);
        assert_eq!(d.cmp_minor(-1251, 2), Ordering::Less);
        assert_eq!(d.cmp_minor(-1249, 2), Ordering::Greater);
        // 12.5 yen is between 12 and 13 yen.
        let half: Decimal = "12.5".parse().unwrap();
        assert_eq!(half.cmp_minor(12, 0), Ordering::Less);
        assert_eq!(half.cmp_minor(13, 0), Ordering::Greater);
        // KWD has three decimals: 1.234 is 1234 fils.
        assert_eq!(
            "1.234".parse::<Decimal>().unwrap().cmp_minor(1234, 3),
            Ordering::Equal
        );
        assert_eq!("0.05".parse::<Decimal>().unwrap().to_string(), "0.05");
        for bad in ["", "-", "1.", ".5", "1,5", "1e3", "abc", "1.2.3", "--1"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad:?}");
        }
        let from_number: Decimal = serde_json::from_str("-12.5").unwrap();
        assert_eq!(from_number.to_string(), "-12.5");
        let from_int: Decimal = serde_json::from_str("100").unwrap();
        assert_eq!(from_int.cmp_minor(10000, 2), Ordering::Equal);
    }

    fn rule(json: &str) -> Result<Rule, RuleError> {
        serde_json::from_str::<Rule>(json).unwrap().validate("body")
    }

    #[test]
    fn validation_names_the_field() {
        let field = |json: &str| rule(json).unwrap_err().field;
        assert_eq!(
            field(r#"{"id":"a b","conditions":{"sign":"out"},"action":{"category":"x"}}"#),
            "id"
        );
        assert_eq!(
            field(r#"{"id":"a","conditions":{},"action":{"category":"x"}}"#),
            "conditions"
        );
        assert_eq!(
            field(r#"{"id":"a","conditions":{"sign":"out"},"action":{}}"#),
            "action"
        );
        assert_eq!(
            field(r#"{"id":"a","conditions":{"currency":"XYZ"},"action":{"category":"x"}}"#),
            "conditions.currency"
        );
        assert_eq!(
            field(
                r#"{"id":"a","conditions":{"amount_min":"10","amount_max":"-10"},"action":{"category":"x"}}"#
            ),
            "conditions.amount_min"
        );
        assert_eq!(
            field(r#"{"id":"a","conditions":{"sign":"in"},"action":{"sub_category":"x"}}"#),
            "action.sub_category"
        );
        assert_eq!(
            field(
                r#"{"id":"a","conditions":{"description_contains":" "},"action":{"category":"x"}}"#
            ),
            "conditions.description_contains"
        );
        let ok = rule(r#"{"id":"a","conditions":{"currency":"eur"},"action":{"merchant":"M"}}"#)
            .unwrap();
        assert_eq!(ok.conditions.currency.as_deref(), Some("EUR"));
        assert_eq!(ok.stage, Stage::Pre);
        assert_eq!(ok.scope, RuleScope::Global);
    }

    #[test]
    fn scope_applies_to_its_customer_only() {
        let c = RuleScope::Customer {
            customer_id: "c-1".into(),
        };
        assert!(c.applies_to(Some(&"c-1".into())));
        assert!(!c.applies_to(Some(&"c-2".into())));
        assert!(!c.applies_to(None));
        assert!(RuleScope::Global.applies_to(None));
    }
}
