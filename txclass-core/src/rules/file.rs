//! The rules file the CLI reads (`txclass classify --rules rules.toml`).

use std::path::Path;

use serde::Deserialize;

use super::{Rule, RuleError, RuleSet};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: Vec<Rule>,
}

/// Why a rules file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML of the rules format.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The TOML reader's message (with the line and the key).
        message: String,
    },
    /// A rule is wrong.
    #[error("{path}: {source}")]
    Rule {
        /// The file.
        path: String,
        /// Which rule and field.
        source: RuleError,
    },
}

/// Reads TOML rules text: `[[rules]]` tables of [`Rule`] fields. `name` names the text in
/// errors.
///
/// ```
/// let set = txclass_core::rules::parse_rules("t.toml", r#"
/// [[rules]]
/// id = "rent"
/// conditions = { description_contains = "aluguel", sign = "out" }
/// action = { category = "rent", merchant = "Landlord" }
/// "#).unwrap();
/// assert_eq!(set.len(), 1);
/// ```
pub fn parse_rules(name: &str, text: &str) -> Result<RuleSet, RulesFileError> {
    let file: RulesFile = toml::from_str(text).map_err(|e| RulesFileError::Syntax {
        path: name.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    RuleSet::compile(file.rules).map_err(|source| RulesFileError::Rule {
        path: name.to_owned(),
        source,
    })
}

/// Reads a rules file ([`parse_rules`]).
pub fn load_rules(path: &Path) -> Result<RuleSet, RulesFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| RulesFileError::Io {
        path: shown.clone(),
        source,
    })?;
    parse_rules(&shown, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_example_is_a_valid_rules_file() {
        let readme = include_str!("../../../README.md");
        let block = readme
            .split("```toml rules.toml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("the README shows a rules file");
        let set = parse_rules("README.md", block).unwrap();
        let ids: Vec<&str> = set.rules().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["padaria", "uber", "rent", "unsure-fuel"],
            "pre by order, then post"
        );
        // A sub-category is kept as its full label.
        let padaria = set.rules().next().unwrap();
        assert_eq!(
            padaria.action.sub_category.as_ref().map(|c| c.as_str()),
            Some("groceries/bakery")
        );
    }

    #[test]
    fn errors_name_the_rule_and_field() {
        let e = parse_rules(
            "r.toml",
            "[[rules]]\nid = \"x\"\nconditions = { description_matches = \"(\" }\naction = { category = \"a\" }\n",
        )
        .unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains("r.toml")
                && shown.contains("rule x")
                && shown.contains("description_matches"),
            "{shown}"
        );
        let e = parse_rules("r.toml", "[[rules]]\nid = \"x\"\nwhen = 1\n").unwrap_err();
        assert!(matches!(e, RulesFileError::Syntax { .. }), "{e}");
        assert!(e.to_string().contains("when"), "{e}");
        assert!(parse_rules("r.toml", "").unwrap().is_empty());
    }
}
