//! The words of a statement line that name how it was paid, not whom, and the dates written
//! with a month's name: the classifier reads rails apart from the merchant's words and
//! leaves dates out, and merchant names leave both out. One list of each for both, in a
//! module of its own that neither depends on.

/// Tokens that start a line and name the payment rail, not the merchant. The classifier's
/// features depend on this list: a change to it is a new `FEATURE_VERSION` and new models.
const RAILS: &[&str] = &[
    "compra",
    "cartao",
    "credito",
    "debito",
    "cred",
    "deb",
    "pix",
    "ted",
    "doc",
    "tef",
    "prlv",
    "sepa",
    "cb",
    "carte",
    "paiement",
    "pos",
    "debit",
    "card",
    "purchase",
    "checkcard",
    "visa",
    "electron",
    "mastercard",
    "master",
    "elo",
    "pgto",
    "pagto",
    "pagamento",
    "ach",
    "eft",
    "recurring",
    "contactless",
    "online",
    "int",
    "nacional",
    "enviado",
    "recebido",
    "transf",
    "transferencia",
    "boleto",
    "achat",
    "tarj",
    "tarjeta",
    "con",
    "en",
    "kartenzahlung",
    "girocard",
    "ec",
    "pago",
    "vir",
    "inst",
    "faster",
    "payment",
    "to",
];

/// A word of up to 16 bytes as one number (`None` for a longer one): [`RAILS`] packed.
const fn packed(word: &[u8]) -> Option<u128> {
    if word.len() > 16 {
        return None;
    }
    // Shifted in, not copied into a `[u8; 16]`: the copy was a `memcpy` call a word.
    let mut p = 0;
    let mut i = 0;
    while i < word.len() {
        p |= (word[i] as u128) << (8 * i);
        i += 1;
    }
    Some(p)
}

/// `words` as [`packed`] numbers (every word has at most 16 bytes).
const fn all_packed<const N: usize>(words: &[&str]) -> [u128; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = match packed(words[i].as_bytes()) {
            Some(p) => p,
            None => panic!("a word longer than 16 bytes"),
        };
        i += 1;
    }
    out
}

/// [`RAILS`] as [`packed`] numbers.
const RAILS_PACKED: [u128; RAILS.len()] = all_packed(RAILS);

/// Whether a normalised token (lower case, accents folded: [`fold`]) is a payment-rail word.
///
/// Compared as numbers, not as strings (a `memcmp` call per rail word of the same length):
/// every line's first words are asked.
pub(crate) fn is_rail(token: &str) -> bool {
    packed(token.as_bytes()).is_some_and(|p| RAILS_PACKED.contains(&p))
}

/// Months' names as statements abbreviate them in English, French, Spanish, Portuguese and
/// German (folded: `fév` is `fev`).
const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "janv", "fev", "fevr", "mars", "avr", "mai", "juin", "juil", "aout", "ene", "abr", "ago",
    "dic", "set", "out", "dez", "okt", "maer",
];

/// [`MONTHS`] as [`packed`] numbers (compared as [`is_rail`] compares: every word of every
/// line is asked).
const MONTHS_PACKED: [u128; MONTHS.len()] = all_packed(MONTHS);

/// Whether `run`, a run of letters and digits of a description (folded, [`fold`]), is a
/// month's name that is part of a date: beside a day's number (`day_beside`, the run before
/// or after it is one, [`is_day`]: `26 AUG`, `AUG 26`) or joined to it (`07OCT`). Alone
/// (`CAFE DO MAR`, `MAY DEPARTMENT STORES`) a month's name is a word like any other. The classifier's features
/// depend on it (a change is a new `FEATURE_VERSION`).
pub(crate) fn is_date_month(run: &str, day_beside: bool) -> bool {
    date_month(run).is_some_and(|joined| joined || day_beside)
}

/// Whether `run` is a month's name that a day's number beside it would make a date (see
/// [`is_date_month`]): `Some(true)` when one is joined to it already (`07OCT`), `Some(false)`
/// for the name alone (`OCT`), `None` for any other run.
pub(crate) fn date_month(run: &str) -> Option<bool> {
    let joined = run.bytes().take_while(u8::is_ascii_digit).count();
    let letters = &run[joined..];
    ((3..=5).contains(&letters.len())
        && joined <= 2
        && packed(letters.as_bytes()).is_some_and(|p| MONTHS_PACKED.contains(&p)))
    .then_some(joined > 0)
}

/// Whether `run`, a run of letters and digits of a description, is a day's number (one or
/// two digits) for [`is_date_month`].
pub(crate) fn is_day(run: &str) -> bool {
    (1..=2).contains(&run.len()) && run.bytes().all(|b| b.is_ascii_digit())
}

/// Folds an accented Latin letter to ASCII and lower-cases; other characters pass through
/// lower-cased.
#[inline]
pub(crate) fn fold(c: char) -> char {
    match c {
        // Most statement text is ASCII: decided first.
        c if c.is_ascii() => c.to_ascii_lowercase(),
        'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' | 'Á' | 'À' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
        'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
        'ç' | 'Ç' => 'c',
        'ñ' | 'Ñ' => 'n',
        'ý' | 'ÿ' | 'Ý' => 'y',
        c => c.to_lowercase().next().unwrap_or(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rail_words_are_found_by_their_packed_form_and_no_other_word_is() {
        assert!(RAILS.iter().all(|w| is_rail(w)));
        for word in [
            "",
            "p",
            "po",
            "poss",
            "compras",
            "kartenzahlungen",
            "transferencias",
            "x",
        ] {
            assert!(!is_rail(word), "{word}");
        }
    }
}
