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

/// Whether a normalised token (lower case, accents folded: [`fold`]) is a payment-rail word.
pub(crate) fn is_rail(token: &str) -> bool {
    RAILS.contains(&token)
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
