//! Two-level categories: the versioned taxonomy (`data/taxonomy.toml`) and how labels of
//! two levels roll up.
//!
//! ## Labels
//!
//! A label is a main category's id (`restaurants`) or a sub-category written
//! `main/sub` (`restaurants/coffee`, [`SEPARATOR`]). A bare main id means "no finer
//! sub-category", so labels at the main level (users' corrections and training files, rules
//! that set only a category, stored values, `?category=`) stay valid classes. A transaction's
//! `category` is always a main id; its `sub_category` is a full `main/sub` label, so a filter
//! or a spending row on it needs no second field to be read.
//!
//! Where a label enters (a rule, a training or evaluation file, a query filter),
//! [`Taxonomy::check`] holds it to the built-in taxonomy when its main id is one of the
//! taxonomy's, and checks only its form otherwise: a user's own categories (`pets`,
//! `pets/vet`) keep working, and `restaurants/cofee` is refused with the known ones.
//!
//! ## Roll-up
//!
//! A model trained on sub labels predicts one probability per label; a main category's
//! probability is the sum over its labels ([`LabelTree`]). The category, its probability,
//! band and `uncertain` flag are decided at the main level, so main-level behaviour does not
//! depend on how finely a category is split; the sub-category is the most likely label under
//! the chosen main. A model trained on flat labels has one label per main: the roll-up is the
//! identity and predictions are what they were.
//!
//! ## Why the version is stored with each result
//!
//! Sub-categories will be added and split over time; a stored `restaurants/dining` means what
//! the taxonomy of its version said. [`Taxonomy::version`] is stored with each classified
//! transaction (`taxonomy_version`) so that totals over time can be compared per version, or
//! re-classified, rather than silently mixed.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::domain::{Category, Prediction, Source};

/// Separates a main category's id from its sub-category's: `restaurants/coffee`.
pub const SEPARATOR: char = '/';

/// The built-in taxonomy file.
const BUILTIN: &str = include_str!("../../data/taxonomy.toml");

/// A taxonomy: its version and, per main category, its sub-categories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    /// Changes whenever a sub-category is added, removed or renamed.
    pub version: String,
    /// The main categories, in the file's order (`[[category]]` tables in the file,
    /// `categories` in JSON).
    #[serde(rename(serialize = "categories", deserialize = "category"))]
    pub categories: Vec<MainCategory>,
}

/// A main category and its sub-categories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MainCategory {
    /// The id stored in `category` (`restaurants`).
    pub id: String,
    /// A name to show people.
    pub name: String,
    /// Its sub-categories (none: the main category is not split).
    #[serde(default)]
    pub sub: Vec<SubCategory>,
}

/// A sub-category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubCategory {
    /// Its id within the main category (`coffee`); its label is `main/id`.
    pub id: String,
    /// A name to show people.
    pub name: String,
}

/// A label's two parts: `("restaurants", Some("coffee"))` for `restaurants/coffee`,
/// `("restaurants", None)` for `restaurants`. Form only: no taxonomy is consulted.
pub fn split(label: &str) -> (&str, Option<&str>) {
    match label.split_once(SEPARATOR) {
        Some((main, sub)) => (main, Some(sub)),
        None => (label, None),
    }
}

/// The main category of a label (the label itself when it has no sub-category).
pub fn main_of(label: &str) -> &str {
    split(label).0
}

/// The label of sub-category `sub` of `main`: `main/sub`.
pub fn sub_label(main: &str, sub: &str) -> String {
    format!("{main}{SEPARATOR}{sub}")
}

/// Checks a label's form: a non-empty main id, and at most one [`SEPARATOR`] followed by a
/// non-empty sub id; no part starts or ends with whitespace.
pub fn check_form(label: &str) -> Result<(), String> {
    let (main, sub) = split(label);
    let bad_part = |p: &str| p.is_empty() || p.trim() != p || p.contains(SEPARATOR);
    if bad_part(main) || sub.is_some_and(bad_part) {
        return Err(format!(
            "label {label:?} is not `category` or `category{SEPARATOR}sub_category`"
        ));
    }
    Ok(())
}

impl Taxonomy {
    /// The taxonomy committed with the crate (`data/taxonomy.toml`).
    pub fn builtin() -> &'static Taxonomy {
        static BUILT: OnceLock<Taxonomy> = OnceLock::new();
        BUILT.get_or_init(|| {
            Taxonomy::parse("data/taxonomy.toml", BUILTIN).expect("the built-in taxonomy is valid")
        })
    }

    /// [`check`](Self::check) against the built-in taxonomy, with its labels found first in
    /// a set: every labelled row of a file is asked (a check scans the main categories and
    /// their sub-categories: about a tenth of reading a row).
    #[cfg_attr(not(feature = "files"), allow(dead_code))]
    pub(crate) fn check_builtin(label: &str) -> Result<(), String> {
        // foldhash, not SipHash: about 200 instructions a lookup, 1 % of reading a row.
        static LABELS: OnceLock<foldhash::HashSet<String>> = OnceLock::new();
        let labels = LABELS.get_or_init(|| Taxonomy::builtin().labels().into_iter().collect());
        if labels.contains(label) {
            return Ok(());
        }
        Taxonomy::builtin().check(label)
    }

    /// Parses and validates a taxonomy file (TOML); `name` is what the error message starts
    /// with. (A message, not the crate's error: the taxonomy sits below the modules that
    /// error names.)
    pub fn parse(name: &str, text: &str) -> Result<Taxonomy, String> {
        let t: Taxonomy = crate::config::from_toml_str(name, text).map_err(|e| e.to_string())?;
        t.validate().map_err(|what| format!("{name}: {what}"))?;
        Ok(t)
    }

    /// Checks that the version is set, every id has the form of a label part (lower case
    /// letters, digits and `_`), and no main id or sub id (within its main) repeats.
    fn validate(&self) -> Result<(), String> {
        let id_ok = |id: &str| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if self.version.trim().is_empty() {
            return Err("version is empty".into());
        }
        let mut mains = std::collections::HashSet::new();
        for m in &self.categories {
            if !id_ok(&m.id) {
                return Err(format!(
                    "category id {:?} is not lower-case letters, digits and _",
                    m.id
                ));
            }
            if m.id == Category::UNCERTAIN {
                return Err(format!("category id {:?} is reserved", m.id));
            }
            if !mains.insert(m.id.as_str()) {
                return Err(format!("category {:?} appears twice", m.id));
            }
            let mut subs = std::collections::HashSet::new();
            for s in &m.sub {
                if !id_ok(&s.id) {
                    return Err(format!(
                        "sub-category id {:?} of {} is not lower-case letters, digits and _",
                        s.id, m.id
                    ));
                }
                if !subs.insert(s.id.as_str()) {
                    return Err(format!("sub-category {:?} of {} appears twice", s.id, m.id));
                }
            }
        }
        if mains.is_empty() {
            return Err("no categories".into());
        }
        Ok(())
    }

    /// The version, stored with each result.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The main category with this id.
    pub fn main(&self, id: &str) -> Option<&MainCategory> {
        self.categories.iter().find(|m| m.id == id)
    }

    /// Every label of the taxonomy: each main id, followed by its `main/sub` labels.
    pub fn labels(&self) -> Vec<String> {
        self.categories
            .iter()
            .flat_map(|m| {
                std::iter::once(m.id.clone()).chain(m.sub.iter().map(|s| sub_label(&m.id, &s.id)))
            })
            .collect()
    }

    /// Whether `label` is one of [`labels`](Self::labels).
    pub fn contains(&self, label: &str) -> bool {
        let (main, sub) = split(label);
        self.main(main)
            .is_some_and(|m| sub.is_none_or(|s| m.sub.iter().any(|x| x.id == s)))
    }

    /// Checks a label as it enters (see the module docs): its form always; when its main id
    /// is one of this taxonomy's, that its sub-category is too.
    pub fn check(&self, label: &str) -> Result<(), String> {
        check_form(label)?;
        let (main, sub) = split(label);
        match (self.main(main), sub) {
            (Some(m), Some(s)) if !m.sub.iter().any(|x| x.id == s) => {
                let known: Vec<&str> = m.sub.iter().map(|x| x.id.as_str()).collect();
                Err(if known.is_empty() {
                    format!("{main} has no sub-categories in taxonomy {}", self.version)
                } else {
                    format!(
                        "{s:?} is not a sub-category of {main} in taxonomy {} (known: {})",
                        self.version,
                        known.join(", ")
                    )
                })
            }
            _ => Ok(()),
        }
    }

    /// The version to store with a result whose labels are `category` and `sub_category`:
    /// this taxonomy's when both are its labels, else `None` (a user's own categories).
    pub fn version_for(&self, category: &str, sub_category: Option<&str>) -> Option<String> {
        (self.contains(category) && sub_category.is_none_or(|s| self.contains(s)))
            .then(|| self.version.clone())
    }

    /// A category decided by a rule or by the user ([`Prediction::decided`]), stored with
    /// this taxonomy's version when both labels are its.
    pub fn decided(
        &self,
        category: Category,
        sub_category: Option<Category>,
        merchant: Option<String>,
        source: Source,
    ) -> Prediction {
        let version = self.version_for(
            category.as_str(),
            sub_category.as_ref().map(Category::as_str),
        );
        Prediction::decided(category, sub_category, merchant, source, version)
    }

    /// The category and full sub-category label a rule or a query gives as `category` and
    /// `sub_category`: `category` may itself be `main/sub`, and `sub_category` either a full
    /// label of the same main or a bare sub id of `category`. Both are [`check`](Self::check)ed.
    pub fn resolve(
        &self,
        category: Option<&str>,
        sub_category: Option<&str>,
    ) -> Result<(Option<Category>, Option<Category>), String> {
        let (main, mut sub) = match category {
            Some(c) => {
                self.check(c)?;
                let (main, sub) = split(c);
                (Some(main), sub.map(|s| sub_label(main, s)))
            }
            None => (None, None),
        };
        if let Some(s) = sub_category {
            let full = match (split(s), main) {
                ((_, Some(_)), _) => s.to_owned(),
                ((bare, None), Some(main)) => sub_label(main, bare),
                ((_, None), None) => {
                    return Err(format!(
                        "sub-category {s:?} needs its category: write it `category{SEPARATOR}{s}`"
                    ))
                }
            };
            self.check(&full)?;
            if split(&full).1.is_none() {
                return Err(format!("{s:?} is not a sub-category label"));
            }
            if main.is_some_and(|m| m != main_of(&full)) {
                return Err(format!(
                    "sub-category {full:?} is not under category {:?}",
                    main.unwrap_or_default()
                ));
            }
            if sub.as_ref().is_some_and(|x| *x != full) {
                return Err(format!(
                    "category {:?} and sub-category {full:?} disagree",
                    category.unwrap_or_default()
                ));
            }
            sub = Some(full);
        }
        let main = main
            .map(str::to_owned)
            .or_else(|| sub.as_deref().map(|s| main_of(s).to_owned()));
        Ok((main.map(Category::new), sub.map(Category::new)))
    }
}

/// Which level totals are kept at: per main category, or per category and sub-category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Per main category (`restaurants`).
    #[default]
    Main,
    /// Per category and sub-category (`restaurants/coffee`, and `restaurants` for the
    /// category's transactions without one).
    Sub,
}

impl std::str::FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "main" => Ok(Level::Main),
            "sub" => Ok(Level::Sub),
            other => Err(format!("level {other:?} is not main or sub")),
        }
    }
}

/// The two levels of a model's labels: which main category each label rolls up to.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelTree {
    /// The main categories, in order of first appearance in the labels.
    mains: Vec<Category>,
    /// Per label, the index of its main category.
    main_of: Vec<usize>,
    /// Per main category, its labels' indices (so a roll-up allocates nothing).
    groups: Vec<Vec<usize>>,
    /// Per label, its sub-category label (`None` for a bare main id).
    sub: Vec<Option<Category>>,
    /// Whether some label has a sub-category.
    two_level: bool,
    /// The built-in taxonomy's version when every label is one of its labels.
    taxonomy_version: Option<String>,
}

/// The roll-up of one row's label probabilities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pick {
    /// Index of the most likely main category in [`LabelTree::mains`].
    pub main: usize,
    /// Its probability: the sum over its labels.
    pub probability: f32,
    /// Index of the most likely label under that main category.
    pub label: usize,
    /// That label's probability.
    pub label_probability: f32,
}

impl LabelTree {
    /// The tree of `labels` (each `main` or `main/sub`).
    pub fn new(labels: &[Category]) -> Self {
        let mut mains: Vec<Category> = Vec::new();
        let mut main_of = Vec::with_capacity(labels.len());
        let mut sub = Vec::with_capacity(labels.len());
        for l in labels {
            let (m, s) = split(l.as_str());
            let i = match mains.iter().position(|x| x.as_str() == m) {
                Some(i) => i,
                None => {
                    mains.push(Category::new(m));
                    mains.len() - 1
                }
            };
            main_of.push(i);
            sub.push(s.map(|_| l.clone()));
        }
        let taxonomy = Taxonomy::builtin();
        let mut groups = vec![Vec::new(); mains.len()];
        for (label, &main) in main_of.iter().enumerate() {
            groups[main].push(label);
        }
        Self {
            groups,
            two_level: sub.iter().any(Option::is_some),
            taxonomy_version: labels
                .iter()
                .all(|l| taxonomy.contains(l.as_str()))
                .then(|| taxonomy.version.clone()),
            mains,
            main_of,
            sub,
        }
    }

    /// The main categories.
    pub fn mains(&self) -> &[Category] {
        &self.mains
    }

    /// The indices of the labels of main category `main` (`None` when it is not one).
    pub fn labels_of(&self, main: &str) -> Option<&[usize]> {
        let i = self.mains.iter().position(|m| m.as_str() == main)?;
        Some(&self.groups[i])
    }

    /// The index of label `label`'s main category.
    pub fn main_of(&self, label: usize) -> usize {
        self.main_of[label]
    }

    /// Label `label`'s sub-category label (`None` for a bare main id).
    pub fn sub_of(&self, label: usize) -> Option<&Category> {
        self.sub[label].as_ref()
    }

    /// Whether some label has a sub-category.
    pub fn is_two_level(&self) -> bool {
        self.two_level
    }

    /// The built-in taxonomy's version when every label is one of its labels.
    pub fn taxonomy_version(&self) -> Option<&str> {
        self.taxonomy_version.as_deref()
    }

    /// The most likely main category (probabilities summed over its labels, first one on
    /// ties) and the most likely label under it, for label probabilities `p`.
    pub fn pick(&self, p: &[f32]) -> Pick {
        if !self.two_level {
            let (label, label_probability) = argmax(p);
            return Pick {
                main: self.main_of[label],
                probability: label_probability,
                label,
                label_probability,
            };
        }
        let (mut main, mut probability) = (0, f32::NEG_INFINITY);
        for (m, labels) in self.groups.iter().enumerate() {
            let sum: f32 = labels.iter().map(|&i| p[i]).sum();
            if sum > probability {
                (main, probability) = (m, sum);
            }
        }
        let (mut label, mut label_probability) = (0, f32::NEG_INFINITY);
        for &i in &self.groups[main] {
            if p[i] > label_probability {
                (label, label_probability) = (i, p[i]);
            }
        }
        Pick {
            main,
            probability: probability.min(1.0),
            label,
            label_probability,
        }
    }
}

/// The first largest value's index and the value.
fn argmax(p: &[f32]) -> (usize, f32) {
    p.iter().enumerate().fold(
        (0, f32::NEG_INFINITY),
        |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_taxonomy_keeps_the_eighteen_main_categories_in_order() {
        let t = Taxonomy::builtin();
        let mains: Vec<&str> = t.categories.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(mains, Category::BUILTIN);
        assert!(!t.version().is_empty());
        assert!(t.contains("restaurants/coffee"));
        assert!(t.contains("transport/ride_hailing"));
        assert!(t.contains("restaurants"));
        assert!(!t.contains("restaurants/cofee"));
        assert!(!t.contains("pets"));
        let labels = t.labels();
        assert_eq!(labels[0], "groceries");
        assert!(labels.iter().all(|l| t.contains(l)));
    }

    #[test]
    fn bad_taxonomy_files_are_refused_with_what_is_wrong() {
        let bad = |text: &str, want: &str| {
            let e = Taxonomy::parse("t.toml", text).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        };
        bad(
            "version = \"\"\n[[category]]\nid = \"a\"\nname = \"A\"",
            "version is empty",
        );
        bad(
            "version = \"1\"\n[[category]]\nid = \"a\"\nname = \"A\"\n[[category]]\nid = \"a\"\nname = \"B\"",
            "appears twice",
        );
        bad(
            "version = \"1\"\n[[category]]\nid = \"a\"\nname = \"A\"\nsub = [{ id = \"x/y\", name = \"X\" }]",
            "not lower-case",
        );
        bad(
            "version = \"1\"\n[[category]]\nid = \"a\"\nname = \"A\"\nsub = [{ id = \"x\", name = \"X\" }, { id = \"x\", name = \"Y\" }]",
            "appears twice",
        );
        bad(
            "version = \"1\"\n[[category]]\nid = \"uncertain\"\nname = \"U\"",
            "reserved",
        );
        bad(
            "version = \"1\"\n[[category]]\nid = \"a\"\nname = \"A\"\ncolour = \"red\"",
            "unknown field",
        );
        bad("version = \"1\"\ncategory = []", "no categories");
        let ok = Taxonomy::parse(
            "t.toml",
            "version = \"7\"\n[[category]]\nid = \"a\"\nname = \"A\"\nsub = [{ id = \"x\", name = \"X\" }]",
        )
        .unwrap();
        assert_eq!(ok.labels(), ["a", "a/x"]);
    }

    #[test]
    fn labels_are_held_to_the_taxonomy_only_under_its_own_categories() {
        let t = Taxonomy::builtin();
        assert!(t.check("restaurants/coffee").is_ok());
        assert!(t.check("groceries").is_ok());
        // A user's own categories, one level or two.
        assert!(t.check("pets").is_ok());
        assert!(t.check("pets/vet").is_ok());
        let e = t.check("restaurants/cofee").unwrap_err();
        assert!(e.contains("coffee") && e.contains(t.version()), "{e}");
        assert!(t
            .check("rent/housing")
            .unwrap_err()
            .contains("no sub-categories"));
        for bad in ["", "/coffee", "restaurants/", "a/b/c", " a"] {
            assert!(check_form(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rules_and_queries_resolve_to_a_main_and_a_full_sub_label() {
        let t = Taxonomy::builtin();
        let r = |c: Option<&str>, s: Option<&str>| {
            t.resolve(c, s).map(|(a, b)| {
                (
                    a.map(|x| x.0).unwrap_or_default(),
                    b.map(|x| x.0).unwrap_or_default(),
                )
            })
        };
        let ok = |main: &str, sub: &str| Ok((main.to_owned(), sub.to_owned()));
        assert_eq!(
            r(Some("restaurants"), Some("coffee")),
            ok("restaurants", "restaurants/coffee")
        );
        assert_eq!(
            r(Some("restaurants/coffee"), None),
            ok("restaurants", "restaurants/coffee")
        );
        assert_eq!(
            r(None, Some("restaurants/coffee")),
            ok("restaurants", "restaurants/coffee")
        );
        assert_eq!(r(Some("restaurants"), None), ok("restaurants", ""));
        assert_eq!(r(Some("pets"), Some("vet")), ok("pets", "pets/vet"));
        assert!(r(None, Some("coffee"))
            .unwrap_err()
            .contains("needs its category"));
        assert!(r(Some("groceries"), Some("restaurants/coffee"))
            .unwrap_err()
            .contains("not under"));
        assert!(r(Some("restaurants"), Some("cofee")).is_err());
        assert!(r(Some("restaurants/bars"), Some("coffee"))
            .unwrap_err()
            .contains("disagree"));
    }

    #[test]
    fn a_main_category_is_the_sum_of_its_labels() {
        let labels: Vec<Category> = [
            "restaurants",
            "restaurants/bars",
            "restaurants/coffee",
            "travel",
        ]
        .map(Category::new)
        .to_vec();
        let tree = LabelTree::new(&labels);
        assert!(tree.is_two_level());
        assert_eq!(
            tree.mains(),
            &[Category::new("restaurants"), Category::new("travel")]
        );
        assert_eq!(tree.taxonomy_version(), Some(Taxonomy::builtin().version()));
        // travel is the single most likely label, but restaurants' labels add up to more.
        let pick = tree.pick(&[0.1, 0.2, 0.3, 0.4]);
        assert_eq!((pick.main, pick.label), (0, 2));
        assert!((pick.probability - 0.6).abs() < 1e-6, "{pick:?}");
        assert_eq!(pick.label_probability, 0.3);
        assert_eq!(
            tree.sub_of(pick.label).map(Category::as_str),
            Some("restaurants/coffee")
        );
        assert_eq!(tree.sub_of(0), None);
        // Flat labels: the identity.
        let flat = LabelTree::new(&["food", "rent"].map(Category::new));
        assert!(!flat.is_two_level());
        assert_eq!(flat.taxonomy_version(), None);
        let pick = flat.pick(&[0.3, 0.7]);
        assert_eq!((pick.main, pick.label, pick.probability), (1, 1, 0.7));
    }
}
