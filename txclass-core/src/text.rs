//! Text helpers shared by the file readers, the featurizer and merchant names.

/// The marks that join a word when between a letter or digit and a letter (`LOWE'S`,
/// `MCDONALD’S`): the tokenizer's, merchant names', and the corpus's when it prints a name
/// without them.
pub(crate) const APOSTROPHES: [char; 2] = ['\'', '\u{2019}'];

/// Whether `c`, after a letter or a digit, joins it to `next` into one word: an apostrophe
/// before a letter (`LOWE'S`, `MCDONALD’S`, `O'REILLY`). The tokenizer's rule, and the one
/// [`crate::merchant::merchant_of`] names merchants by.
#[inline]
pub(crate) fn joins_word(c: char, next: Option<char>) -> bool {
    APOSTROPHES.contains(&c) && next.is_some_and(char::is_alphabetic)
}

/// `s` without leading and trailing whitespace, as [`str::trim`]: text that starts and ends
/// with a visible ASCII character (most cells of a file) is returned as it is, without the
/// Unicode scan from both ends that each of a row's ten-odd trims cost.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_as_str_trim_does() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            " a b ",
            "\u{a0}12.34",
            "12.34\u{2003}",
            "\t-5\n",
            "é ",
            "é",
            "\u{feff}x",
            "x\u{85}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }
}
