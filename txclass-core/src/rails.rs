//! The words of a statement line that name how it was paid, not whom: the classifier reads
//! them apart from the merchant's words, and merchant names leave them out. One list for
//! both, in a module of its own that neither depends on.

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
    let mut bytes = [0u8; 16];
    let mut i = 0;
    while i < word.len() {
        bytes[i] = word[i];
        i += 1;
    }
    Some(u128::from_le_bytes(bytes))
}

/// [`RAILS`] as [`packed`] numbers (every rail word has at most 16 bytes).
const RAILS_PACKED: [u128; RAILS.len()] = {
    let mut out = [0; RAILS.len()];
    let mut i = 0;
    while i < RAILS.len() {
        out[i] = match packed(RAILS[i].as_bytes()) {
            Some(p) => p,
            None => panic!("a rail word longer than 16 bytes"),
        };
        i += 1;
    }
    out
};

/// Whether a normalised token (lower case, accents folded: [`fold`]) is a payment-rail word.
///
/// Compared as numbers, not as strings (a `memcmp` call per rail word of the same length):
/// every line's first words are asked.
pub(crate) fn is_rail(token: &str) -> bool {
    packed(token.as_bytes()).is_some_and(|p| RAILS_PACKED.contains(&p))
}

/// Folds an accented Latin letter to ASCII and lower-cases; other characters pass through
/// lower-cased.
pub(crate) fn fold(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' | 'Á' | 'À' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
        'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
        'ç' | 'Ç' => 'c',
        'ñ' | 'Ñ' => 'n',
        'ý' | 'ÿ' | 'Ý' => 'y',
        c if c.is_ascii() => c.to_ascii_lowercase(),
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
