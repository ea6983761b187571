//! Reading config files: TOML (or JSON when the name ends in `.json`) into any serde type,
//! with errors that name the file, the key's path and the line, e.g.
//! `server.toml: partners[0].timout: unknown field `timout`, expected one of … (line 9)`.
//!
//! The rules every txclass config type follows: unknown keys at any depth are refused
//! (`deny_unknown_fields`), every table may be partial (missing keys take the type's
//! defaults), and every duration key ends in `_ms` and takes integer milliseconds.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;

/// A config file that could not be read or does not fit its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as the user named it.
    pub file: String,
    /// Where in the file: `partners[0].retry.max_attempts`; empty for the top level or when
    /// the file could not be read or parsed at all.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line of the fault, when known.
    pub line: Option<usize>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads and parses `path`: JSON when its name ends in `.json`, TOML otherwise.
pub fn from_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: name.clone(),
        path: String::new(),
        message: format!("cannot read it: {e}"),
        line: None,
    })?;
    if path.extension().is_some_and(|e| e == "json") {
        from_json_str(&name, &text)
    } else {
        from_toml_str(&name, &text)
    }
}

/// Parses TOML text; `name` is the file name errors start with.
pub fn from_toml_str<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| ConfigError {
        file: name.into(),
        path: String::new(),
        message: e.message().trim_end().to_owned(),
        line: e.span().map(|s| line_of(text, s.start)),
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = path_of(&e);
        let inner = e.into_inner();
        ConfigError {
            file: name.into(),
            path,
            message: inner.message().trim_end().to_owned(),
            line: inner.span().map(|s| line_of(text, s.start)),
        }
    })
}

/// Parses JSON text; `name` is the file name errors start with.
pub fn from_json_str<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, ConfigError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = path_of(&e);
        let inner = e.into_inner();
        let line = (inner.line() > 0).then_some(inner.line());
        // serde_json's Display ends with " at line L column C": keep the message alone.
        let mut message = inner.to_string();
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        ConfigError {
            file: name.into(),
            path,
            message,
            line,
        }
    })
}

fn path_of<E>(e: &serde_path_to_error::Error<E>) -> String {
    let path = e.path().to_string();
    if path == "." {
        String::new()
    } else {
        path
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Durations as integer milliseconds in config files (whose duration keys all end in `_ms`).
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        size: u32,
    }

    #[test]
    fn a_toml_error_names_file_path_and_line() {
        let e = from_toml_str::<Outer>("x.toml", "[[items]]\nsize = 1\n[[items]]\nsise = 2\n")
            .unwrap_err();
        assert_eq!(e.path, "items[1].sise");
        assert_eq!(e.line, Some(4));
        let text = e.to_string();
        assert!(
            text.starts_with("x.toml: items[1].sise: unknown field `sise`, expected `size`"),
            "{text}"
        );
        assert!(!text.contains('\n'), "one line: {text}");
    }

    #[test]
    fn a_json_error_names_file_path_and_line() {
        let e = from_json_str::<Outer>(
            "x.json",
            "{\"items\": [{\"size\": 1},\n {\"size\": \"a\"}]}",
        )
        .unwrap_err();
        assert_eq!(e.path, "items[1].size");
        assert_eq!(e.line, Some(2));
        assert!(
            e.to_string()
                .starts_with("x.json: items[1].size: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn a_syntax_error_is_one_line_with_its_line_number() {
        let e = from_toml_str::<Outer>("x.toml", "items = [\n").unwrap_err();
        assert!(e.line.is_some(), "{e:?}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}
