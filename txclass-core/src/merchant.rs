//! The merchant a statement line names: what top merchants group by, what a rule's
//! `merchant_is` compares with, and the clean name a rule may give instead.

use crate::domain::Prediction;
use crate::rails::{fold, is_date_month, is_day, is_rail};
use crate::text::joins_word;

/// Leading words that name the payment, not the payee, beyond the rail words the
/// classifier skips ([`is_rail`]): payment processors' prefixes (`PAG*`, `SQ *`, `SUMUP *`),
/// direct debits' (`DD`, `LASTSCHRIFT`, `PRELEVEMENT`, `RECIBO`), transfers' booking texts
/// (`TRANSFER TO`, `GUTSCHRIFT`, `RETOURE`, `VIREMENT`), and the links of `PIX ... DE ...`,
/// `PAGAMENTO EM ...`. Lower case, accents folded. (The classifier reads
/// the direct-debit words as text: a bill's rail says what kind of payee it is.)
const NOT_MERCHANT: &[&str] = &[
    "credit",
    "pag",
    "sq",
    "paypal",
    "mp",
    "sumup",
    "iz",
    "ztl",
    "lyf",
    "klarna",
    "clip",
    "tst",
    "de",
    "em",
    "dd",
    "lastschrift",
    "eftpos",
    "tpv",
    "recibo",
    "adeudo",
    "domiciliacion",
    "prelevement",
    "abbuchung",
    "autopay",
    "basislastschrift",
    "folgelastschrift",
    "erstlastschrift",
    "transfer",
    "ueberweisung",
    "gutschrift",
    "dauerauftrag",
    "retoure",
    "rueckueberweisung",
    "virement",
];

/// Whether a word of a description (any case) names the payment rather than the payee.
fn is_payment_word(word: &str) -> bool {
    let folded: String = word.chars().map(fold).collect();
    is_rail(&folded) || NOT_MERCHANT.contains(&folded.as_str())
}

/// The merchant a description names, for [`Store::top_merchants`](crate::Store::top_merchants): upper-cased, cut into
/// words at anything but letters and digits (an apostrophe inside a word joins it, as the
/// classifier reads it: `MCDONALD'S` → `MCDONALDS`), without words that contain a digit (card
/// numbers, dates, terminal ids), without a date's month (`17 JAN`, [`is_date_month`]) and
/// without leading payment words (`COMPRA CARTAO PAG*`,
/// `PAGO CON TARJETA`, `ACHAT CB`, `CARD PAYMENT TO`: the classifier's rail words and the
/// processors' prefixes), at most three words. `"COMPRA CARTAO PAG*PADARIA SAO PAULO 0412"` → `"PADARIA SAO PAULO"`.
/// A description with nothing left gives `"UNKNOWN"`.
///
/// Why so simple: it runs on every stored transaction in both stores and must give the same
/// answer in both; a merchant database would be a product of its own.
pub fn merchant_of(description: &str) -> String {
    let upper = description.to_uppercase();
    // An apostrophe inside a word joins it, as the classifier reads it: `MCDONALD'S` is the
    // `MCDONALDS` most terminals print, one merchant.
    let mut chars = upper.chars().peekable();
    let mut joined = String::with_capacity(upper.len());
    let mut in_word = false;
    while let Some(c) = chars.next() {
        if in_word && joins_word(c, chars.peek().copied()) {
            continue;
        }
        in_word = c.is_alphanumeric();
        joined.push(c);
    }
    let runs: Vec<&str> = joined
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let folded = |i: usize| -> String { runs[i].chars().map(fold).collect() };
    let day = |i: Option<usize>| i.and_then(|i| runs.get(i)).is_some_and(|r| is_day(r));
    let words: Vec<&str> = (0..runs.len())
        .filter(|&i| {
            !runs[i].chars().any(|c| c.is_numeric())
                && !is_date_month(&folded(i), day(i.checked_sub(1)) || day(Some(i + 1)))
        })
        .map(|i| runs[i])
        .collect();
    // `DIRECT` names the payment only before another payment word (`DIRECT DEBIT`, not
    // `DIRECT LINE`).
    let payment = |i: usize| {
        is_payment_word(words[i])
            || (words[i] == "DIRECT" && words.get(i + 1).is_some_and(|w| is_payment_word(w)))
    };
    let start = (0..words.len())
        .find(|&i| !payment(i))
        .unwrap_or(words.len());
    let merchant: Vec<&str> = words[start..].iter().copied().take(3).collect();
    if merchant.is_empty() {
        "UNKNOWN".to_owned()
    } else {
        merchant.join(" ")
    }
}

/// The clean merchant name of a classified transaction: the one a rule set, else
/// [`merchant_of`] its description. What every store groups [`Store::top_merchants`](crate::Store::top_merchants) by.
pub fn merchant_name(description: &str, p: &Prediction) -> String {
    match &p.merchant {
        Some(m) => m.clone(),
        None => merchant_of(description),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_strips_payment_words_and_numbers() {
        assert_eq!(
            merchant_of("COMPRA CARTAO PAG*PADARIA SAO PAULO 0412"),
            "PADARIA SAO PAULO"
        );
        assert_eq!(merchant_of("Pix enviado Joao 123"), "JOAO");
        assert_eq!(
            merchant_of("uber *trip 4821 help.uber.com"),
            "UBER TRIP HELP"
        );
        assert_eq!(merchant_of("NETFLIX.COM"), "NETFLIX COM");
        assert_eq!(merchant_of("12/03 4821"), "UNKNOWN");
        // The classifier's rail words of every language, and processors' prefixes.
        for (line, merchant) in [
            ("PAGO CON TARJETA EL JAMON MADRID ES", "EL JAMON MADRID"),
            ("ACHAT CB MOBIL 02/06", "MOBIL"),
            (
                "CARD PAYMENT TO PREMIER MARTIAL ARTS",
                "PREMIER MARTIAL ARTS",
            ),
            ("VISA DEBIT CONVERSE LIMERICK IE", "CONVERSE LIMERICK IE"),
            (
                "EC-KARTENZAHLUNG THE HOXTON DUESSELDORF",
                "THE HOXTON DUESSELDORF",
            ),
            ("SUMUP *VILEBREQUIN", "VILEBREQUIN"),
            ("Compra cartão débito Padaria", "PADARIA"),
            ("DIRECT DEBIT IBERDROLA", "IBERDROLA"),
            ("DIRECT LINE INSURANCE", "DIRECT LINE INSURANCE"),
            ("SEPA-LASTSCHRIFT VATTENFALL", "VATTENFALL"),
            (
                "SEPA-BASISLASTSCHRIFT STADTWERKE MUENCHEN STROM ABSCHLAG",
                "STADTWERKE MUENCHEN STROM",
            ),
            ("TRANSFER TO YOUNG JONES LLC", "YOUNG JONES LLC"),
            ("GUTSCHRIFT KARL KAUFMANN", "KARL KAUFMANN"),
            ("VIREMENT DE MARIE DUPONT", "MARIE DUPONT"),
            // A date's month is not the merchant's; a month's name alone may be.
            ("EVANS CYCLES 17 JAN", "EVANS CYCLES"),
            (
                "POS Purchase Spar Craighall Park  * 26 Aug",
                "SPAR CRAIGHALL PARK",
            ),
            ("AUG 26 TESCO STORES 3291", "TESCO STORES"),
            ("MAY DEPARTMENT STORES", "MAY DEPARTMENT STORES"),
            // One merchant however the apostrophe is printed; a quote around words is not
            // inside one.
            ("MCDONALD'S 1234 LONDON", "MCDONALDS LONDON"),
            ("McDonald’s London", "MCDONALDS LONDON"),
            ("MCDONALDS 1234 LONDON", "MCDONALDS LONDON"),
            ("'THE SHOP' LONDON", "THE SHOP LONDON"),
            ("ROCK'N'ROLL CAFE", "ROCKNROLL CAFE"),
            ("BAR 'N GRILL", "BAR N GRILL"),
        ] {
            assert_eq!(merchant_of(line), merchant, "{line}");
        }
        assert_eq!(merchant_of(""), "UNKNOWN");
    }
}
