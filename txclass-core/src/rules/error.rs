use thiserror::Error;

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
