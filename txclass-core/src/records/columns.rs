//! Which column is which: headers are matched case-insensitively, without accents, and
//! through the names banks use in English, Portuguese, Spanish, French and German
//! (`Date`/`Data`/`Fecha`/`Datum`, `Libellé`, `Betrag`, `Paid out`/`Paid in`, …).

/// A field the readers know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Field {
    Id,
    Date,
    Description,
    Amount,
    Debit,
    Credit,
    Currency,
    Category,
    /// A debit/credit indicator beside an unsigned amount (`Soll/Haben`, `Dr/Cr`).
    Direction,
    /// Who paid, beside a column of who was paid ([`Field::Recipient`]): the counterparty of
    /// money coming in (on money going out, the account holder).
    Payer,
    /// Who was paid, beside a column of who paid ([`Field::Payer`]): the counterparty of
    /// money going out.
    Recipient,
    /// The payment's type (`Type`, `Transaction Type`: `BGC`, `DD`, `Card payment`),
    /// read as the words statements print for it ([`super::rail_phrase`]).
    Rail,
}

/// How many fields there are.
pub(crate) const FIELDS: usize = 12;

impl Field {
    pub const ALL: [Field; FIELDS] = [
        Field::Id,
        Field::Date,
        Field::Description,
        Field::Amount,
        Field::Debit,
        Field::Credit,
        Field::Currency,
        Field::Category,
        Field::Direction,
        Field::Payer,
        Field::Recipient,
        Field::Rail,
    ];

    /// Header names that mean this field, normalised ([`normalise`]), best first.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Id => &["id", "transaction id", "txn id", "fitid"],
            Field::Date => &[
                "date",
                "data",
                "fecha",
                "datum",
                "transaction date",
                "booking date",
                "posting date",
                "posted date",
                "date posted",
                "trans date",
                "buchungstag",
                "buchungsdatum",
                "data lancamento",
                "data movimento",
                "date operation",
                "date de l operation",
                "fecha operacion",
                "completed date",
                "started date",
                "value date",
                "valuta",
            ],
            // Every column with one of these names is read, best first, as one text
            // (`ColumnMap::texts`): who was paid, then what the bank or the payer wrote.
            Field::Description => &[
                "description",
                "descricao",
                "descripcion",
                "libelle",
                "payee",
                "merchant",
                "name",
                "narrative",
                "details",
                "transaction description",
                "transaction details",
                "historico",
                "lancamento",
                "concepto",
                "libelle operation",
                "libelle court",
                "title",
                "titulo",
                "beguenstigter/zahlungspflichtiger",
                "begunstigter/zahlungspflichtiger",
                "auftraggeber/empfanger",
                "auftraggeber / empfanger",
                "auftraggeber / begunstigter",
                "auftraggeber/begunstigter",
                "empfanger",
                "naam / omschrijving",
                "counterparty",
                "counter party",
                "buchungstext",
                "vorgang",
                "detail de l ecriture",
                "verwendungszweck",
                "memo",
                "notes",
                "note",
                "notes and #tags",
                "reference",
                "text",
                "mededelingen",
            ],
            Field::Amount => &[
                "amount",
                "valor",
                "montant",
                "betrag",
                "bedrag",
                "montant operation",
                "montant de l operation",
                "importe",
                "transaction amount",
                "umsatz",
                "value",
            ],
            Field::Debit => &[
                "debit",
                "debito",
                "debit amount",
                "paid out",
                "money out",
                "withdrawal",
                "withdrawals",
                "soll",
                "cargo",
                "saida",
                "outflow",
            ],
            Field::Credit => &[
                "credit",
                "credito",
                "credit amount",
                "paid in",
                "money in",
                "deposit",
                "deposits",
                "haben",
                "abono",
                "entrada",
                "inflow",
            ],
            Field::Currency => &[
                "currency",
                "moeda",
                "devise",
                "wahrung",
                "waehrung",
                "moneda",
                "currency code",
                "ccy",
            ],
            Field::Category => &[
                "category",
                "label",
                "categoria",
                "categorie",
                "kategorie",
                "class",
            ],
            Field::Direction => &[
                "dr/cr",
                "cr/dr",
                "debit/credit",
                "credit/debit",
                "d/c",
                "c/d",
                "soll/haben",
                "af bij",
                "s/h",
                "credit debit indicator",
                "cdtdbtind",
            ],
            // DKB's export since 2023 and Wise's statement name both parties of every
            // payment, the account holder among them: the one to read depends on the
            // direction.
            Field::Payer => &[
                "zahlungspflichtige*r",
                "zahlungspflichtiger",
                "zahlungspflichtige",
                "payer",
                "payer name",
                "debtor name",
            ],
            Field::Recipient => &[
                "zahlungsempfanger*in",
                "zahlungsempfanger",
                "recipient",
                "recipient name",
                "payee name",
                "creditor name",
            ],
            // Lloyds, Halifax, Nationwide, Monzo, Starling, Revolut and Chase name the
            // payment's type in a column of its own; Barclays calls it a subcategory.
            Field::Rail => &[
                "type",
                "transaction type",
                "trans type",
                "payment type",
                "subcategory",
            ],
        }
    }
}

/// The currency a header names: in parentheses (`Amount (GBP)`, `Valor (R$)`), or as its
/// last word when the words before it name an amount (`Umsatz in EUR`, `Débit euros`).
pub(crate) fn header_currency(header: &str) -> Option<crate::currency::Currency> {
    let h = header.trim();
    if let Some(inner) = h.strip_suffix(')').and_then(|h| h.rsplit_once('(')) {
        return crate::currency::amount::AmountText::parse(&format!("{} 0", inner.1.trim()))
            .ok()
            .and_then(|a| a.currency);
    }
    let n = normalise(h);
    split_currency(&n)
        .filter(|(rest, _)| alias_of(rest).is_some())
        .map(|(_, c)| c)
}

/// A normalised header without a last word that is a currency (`umsatz in eur` →
/// `umsatz`, `debit euros` → `debit`), and that currency.
fn split_currency(n: &str) -> Option<(&str, crate::currency::Currency)> {
    let (rest, last) = n.rsplit_once(' ')?;
    let c = match last {
        "euro" | "euros" => crate::currency::Currency::from_code("EUR"),
        _ if last.len() == 3 => crate::currency::Currency::from_code(last),
        _ => None,
    }?;
    Some((rest.strip_suffix(" in").unwrap_or(rest), c))
}

/// A header name folded for matching: lower case, accents and a byte-order mark removed,
/// `_`/`-`/`.` as spaces, spaces collapsed, a trailing `(…)` dropped (`Amount (GBP)`).
pub(crate) fn normalise(header: &str) -> String {
    let mut s = header.trim_start_matches('\u{feff}').trim().to_lowercase();
    if let Some(open) = s.rfind('(') {
        if s.ends_with(')') && open > 0 {
            s.truncate(open);
        }
    }
    let folded: String = s
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            '_' | '-' | '.' | '\'' | '’' => ' ',
            c => c,
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The field a header name means, if any, and the rank of its alias: by the whole name, or
/// without a currency that ends it (`Umsatz in EUR`).
pub(crate) fn field_of(header: &str) -> Option<(Field, usize)> {
    let n = normalise(header);
    alias_of(&n).or_else(|| split_currency(&n).and_then(|(rest, _)| alias_of(rest)))
}

/// The field a normalised header name is an alias of, and the alias's rank.
fn alias_of(n: &str) -> Option<(Field, usize)> {
    Field::ALL.iter().find_map(|&f| {
        f.aliases()
            .iter()
            .position(|a| *a == n)
            .map(|rank| (f, rank))
    })
}

/// The rank among the description aliases (that of `payee`) at which a lone payer or
/// recipient column is read ([`lone_party`]).
const LONE_PARTY_RANK: usize = 4;

/// A payer or a recipient (a column, a key) without the other, with the rank among the
/// description aliases it is read at: alone, it names the counterparty of every row (a bank's
/// `Zahlungsempfänger` holding the payer of money coming in), so it is read as a description
/// part; only the two together are read by direction. `None` for both or neither.
pub(crate) fn lone_party<T>(payer: Option<T>, recipient: Option<T>) -> Option<(usize, T)> {
    match (payer, recipient) {
        (Some(one), None) | (None, Some(one)) => Some((LONE_PARTY_RANK, one)),
        _ => None,
    }
}

/// Description aliases read only when no other description column is there: beside a
/// description, a `merchant` column is a name derived from it (`txclass classify` writes one:
/// its output, classified again, reads as before), and a `details` column holds the
/// direction (Chase's checking export: `DEBIT`, `CREDIT`, `CHECK`).
const ONLY_ALONE: [&str; 2] = ["merchant", "details"];

/// The description columns to read, best first, of those found (each with its rank among
/// the description aliases): all of them but those of [`ONLY_ALONE`], which are read only
/// when no other is found (the best of them).
pub(crate) fn description_parts<T: Ord>(mut found: Vec<(usize, T)>) -> Vec<T> {
    let aliases = Field::Description.aliases();
    let alone = |rank: usize| ONLY_ALONE.contains(&aliases[rank]);
    found.sort_unstable();
    if found.iter().any(|(rank, _)| !alone(*rank)) {
        found.retain(|(rank, _)| !alone(*rank));
    } else {
        found.truncate(1);
    }
    found.into_iter().map(|(_, t)| t).collect()
}

/// Where each field is in a CSV record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ColumnMap {
    index: [Option<usize>; FIELDS],
    /// The description columns to read ([`description_parts`]), best name first (the
    /// leftmost on a tie): a payee and a memo, a Buchungstext and a Verwendungszweck, read
    /// as one text.
    pub texts: Vec<usize>,
    /// The currency the amount column's header names (`Amount (EUR)`).
    pub currency: Option<crate::currency::Currency>,
}

impl ColumnMap {
    /// Maps a header row: for each field, the column whose name is its best alias (the
    /// leftmost on a tie), and every description column; columns no field claims are
    /// ignored.
    pub fn from_headers<'h>(headers: impl IntoIterator<Item = &'h str>) -> ColumnMap {
        let headers: Vec<&str> = headers.into_iter().collect();
        let mut best: [Option<(usize, usize)>; FIELDS] = [None; FIELDS];
        let mut texts = Vec::new();
        for (col, h) in headers.iter().enumerate() {
            if let Some((f, rank)) = field_of(h) {
                if f == Field::Description {
                    texts.push((rank, col));
                }
                let slot = &mut best[f as usize];
                if slot.is_none_or(|(r, _)| rank < r) {
                    *slot = Some((rank, col));
                }
            }
        }
        let mut index = best.map(|b| b.map(|(_, col)| col));
        let (payer, recipient) = (Field::Payer as usize, Field::Recipient as usize);
        if let Some(part) = lone_party(index[payer], index[recipient]) {
            texts.push(part);
            index[payer] = None;
            index[recipient] = None;
        }
        let currency = [Field::Amount, Field::Debit, Field::Credit]
            .iter()
            .filter_map(|&f| index[f as usize])
            .find_map(|col| headers.get(col).and_then(|h| header_currency(h)));
        ColumnMap {
            index,
            texts: description_parts(texts),
            currency,
        }
    }

    /// The column of `f`.
    pub fn get(&self, f: Field) -> Option<usize> {
        self.index[f as usize]
    }

    /// Required fields the header lacks: a date, a description, and an amount or a
    /// debit/credit pair.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.get(Field::Date).is_none() {
            missing.push("date (Date, Data, Fecha, Datum, Transaction Date, …)");
        }
        let parties = self.get(Field::Payer).is_some() && self.get(Field::Recipient).is_some();
        if self.texts.is_empty() && !parties {
            missing
                .push("description (Description, Descrição, Libellé, Memo, Payee, Narrative, …)");
        }
        if self.get(Field::Amount).is_none()
            && self.get(Field::Debit).is_none()
            && self.get(Field::Credit).is_none()
        {
            missing.push("amount (Amount, Valor, Montant, Betrag, or Debit and Credit columns)");
        }
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DKB's export since 2023: both parties of each payment, the purpose.
    const DKB_2023: [&str; 12] = [
        "Buchungsdatum",
        "Wertstellung",
        "Status",
        "Zahlungspflichtige*r",
        "Zahlungsempfänger*in",
        "Verwendungszweck",
        "Umsatztyp",
        "IBAN",
        "Betrag (€)",
        "Gläubiger-ID",
        "Mandatsreferenz",
        "Kundenreferenz",
    ];

    #[test]
    fn type_columns_of_uk_and_app_exports_are_found() {
        for (headers, col) in [
            (
                &[
                    "Date",
                    "Transaction type",
                    "Description",
                    "Paid out",
                    "Paid in",
                ][..],
                1,
            ),
            (
                &["Transaction ID", "Date", "Time", "Type", "Name", "Amount"][..],
                3,
            ),
            (
                &["Number", "Date", "Account", "Amount", "Subcategory", "Memo"][..],
                4,
            ),
            (
                &["Type", "Product", "Started Date", "Description", "Amount"][..],
                0,
            ),
        ] {
            let m = ColumnMap::from_headers(headers.iter().copied());
            assert_eq!(m.get(Field::Rail), Some(col), "{headers:?}");
            assert!(
                !m.texts.contains(&col),
                "{headers:?}: the type is not a description"
            );
        }
    }

    #[test]
    fn a_lone_party_column_reads_at_the_payees_rank() {
        assert_eq!(Field::Description.aliases()[LONE_PARTY_RANK], "payee");
    }

    #[test]
    fn both_parties_of_dkb_and_wise_exports_are_read_by_direction() {
        let parties = |headers: &[&str]| {
            let m = ColumnMap::from_headers(headers.iter().copied());
            assert!(m.missing().is_empty(), "{:?}", m.missing());
            (m.get(Field::Payer), m.get(Field::Recipient), m.texts)
        };
        assert_eq!(parties(&DKB_2023), (Some(3), Some(4), vec![5]));
        // Wise's statement: a merchant column beside the description is not read (as
        // `txclass classify`'s own is not), the note is.
        let wise = [
            "TransferWise ID",
            "Date",
            "Amount",
            "Currency",
            "Description",
            "Payment Reference",
            "Running Balance",
            "Exchange From",
            "Exchange To",
            "Exchange Rate",
            "Payer Name",
            "Payee Name",
            "Payee Account Number",
            "Merchant",
            "Card Last Four Digits",
            "Card Holder Full Name",
            "Attachment",
            "Note",
            "Total fees",
        ];
        assert_eq!(parties(&wise), (Some(10), Some(11), vec![4, 17]));
        // One alone is a payee.
        assert_eq!(
            parties(&["Date", "Payee Name", "Amount"]),
            (None, None, vec![1])
        );
    }

    #[test]
    fn headers_match_without_case_accents_or_units() {
        let m = ColumnMap::from_headers(["Data", "Descrição", "Valor (R$)", "Saldo"]);
        assert_eq!(
            (
                m.get(Field::Date),
                m.get(Field::Description),
                m.get(Field::Amount)
            ),
            (Some(0), Some(1), Some(2))
        );
        assert_eq!(m.currency.map(|c| c.code()), Some("BRL"));
        let m = ColumnMap::from_headers(["\u{feff}DATE", "Libellé", "Montant"]);
        assert!(m.missing().is_empty());
        let m = ColumnMap::from_headers(["Date", "Payee", "Reference", "Paid out", "Paid in"]);
        assert_eq!(m.get(Field::Description), Some(1), "the better alias wins");
        assert_eq!(
            (m.get(Field::Debit), m.get(Field::Credit)),
            (Some(3), Some(4))
        );
        assert!(m.missing().is_empty());
        let m = ColumnMap::from_headers(["Buchungstag", "Text", "Betrag (EUR)", "Soll/Haben"]);
        assert_eq!(m.get(Field::Direction), Some(3));
        assert_eq!(m.currency.map(|c| c.code()), Some("EUR"));
        let m = ColumnMap::from_headers(["Datum", "Verwendungszweck", "Saldo"]);
        assert_eq!(m.missing().len(), 1);
        assert!(m.missing()[0].starts_with("amount"));
    }

    /// How a header row maps: the date column, the description columns in reading order,
    /// the amount (or debit and credit) columns, the direction column, and the currency of
    /// the header or the currency column.
    type Mapped = (
        Option<usize>,
        Vec<usize>,
        [Option<usize>; 4],
        Option<&'static str>,
    );

    fn mapped(headers: &[&str]) -> Result<Mapped, Vec<&'static str>> {
        let m = ColumnMap::from_headers(headers.iter().copied());
        if !m.missing().is_empty() {
            return Err(m.missing());
        }
        let currency = m
            .currency
            .map(|c| c.code())
            .or(m.get(Field::Currency).map(|_| "column"));
        Ok((
            m.get(Field::Date),
            m.texts.clone(),
            [Field::Amount, Field::Debit, Field::Credit, Field::Direction].map(|f| m.get(f)),
            currency,
        ))
    }

    #[test]
    fn header_rows_of_real_bank_and_app_exports_map_whole() {
        let (n, c) = (None, Some("column"));
        let cases: [(&str, &[&str], Mapped); 24] = [
            (
                "Chase card",
                &[
                    "Transaction Date",
                    "Post Date",
                    "Description",
                    "Category",
                    "Type",
                    "Amount",
                    "Memo",
                ],
                (Some(0), vec![2, 6], [Some(5), n, n, n], None),
            ),
            (
                "Chase checking",
                &[
                    "Details",
                    "Posting Date",
                    "Description",
                    "Amount",
                    "Type",
                    "Balance",
                    "Check or Slip #",
                ],
                (Some(1), vec![2], [Some(3), n, n, n], None),
            ),
            (
                "Capital One",
                &[
                    "Transaction Date",
                    "Posted Date",
                    "Card No.",
                    "Description",
                    "Category",
                    "Debit",
                    "Credit",
                ],
                (Some(0), vec![3], [n, Some(5), Some(6), n], None),
            ),
            (
                "Revolut",
                &[
                    "Type",
                    "Product",
                    "Started Date",
                    "Completed Date",
                    "Description",
                    "Amount",
                    "Fee",
                    "Currency",
                    "State",
                    "Balance",
                ],
                (Some(3), vec![4], [Some(5), n, n, n], c),
            ),
            (
                "Monzo",
                &[
                    "Transaction ID",
                    "Date",
                    "Time",
                    "Type",
                    "Name",
                    "Emoji",
                    "Category",
                    "Amount",
                    "Currency",
                    "Local amount",
                    "Local currency",
                    "Notes and #tags",
                    "Address",
                    "Receipt",
                    "Description",
                    "Category split",
                    "Money Out",
                    "Money In",
                ],
                (
                    Some(1),
                    vec![14, 4, 11],
                    [Some(7), Some(16), Some(17), n],
                    c,
                ),
            ),
            (
                "Starling",
                &[
                    "Date",
                    "Counter Party",
                    "Reference",
                    "Type",
                    "Amount (GBP)",
                    "Balance (GBP)",
                    "Spending Category",
                    "Notes",
                ],
                (Some(0), vec![1, 7, 2], [Some(4), n, n, n], Some("GBP")),
            ),
            (
                "Nationwide",
                &[
                    "Date",
                    "Transaction type",
                    "Description",
                    "Paid out",
                    "Paid in",
                    "Balance",
                ],
                (Some(0), vec![2], [n, Some(3), Some(4), n], None),
            ),
            (
                "Lloyds",
                &[
                    "Transaction Date",
                    "Transaction Type",
                    "Sort Code",
                    "Account Number",
                    "Transaction Description",
                    "Debit Amount",
                    "Credit Amount",
                    "Balance",
                ],
                (Some(0), vec![4], [n, Some(5), Some(6), n], None),
            ),
            (
                "Barclays",
                &["Number", "Date", "Account", "Amount", "Subcategory", "Memo"],
                (Some(1), vec![5], [Some(3), n, n, n], None),
            ),
            (
                "ING (NL)",
                &[
                    "Datum",
                    "Naam / Omschrijving",
                    "Rekening",
                    "Tegenrekening",
                    "Code",
                    "Af Bij",
                    "Bedrag (EUR)",
                    "Mutatiesoort",
                    "Mededelingen",
                ],
                (Some(0), vec![1, 8], [Some(6), n, n, Some(5)], Some("EUR")),
            ),
            (
                "Sparkasse",
                &[
                    "Auftragskonto",
                    "Buchungstag",
                    "Valutadatum",
                    "Buchungstext",
                    "Verwendungszweck",
                    "Glaeubiger ID",
                    "Mandatsreferenz",
                    "Kundenreferenz (End-to-End)",
                    "Sammlerreferenz",
                    "Lastschrift Ursprungsbetrag",
                    "Auslagenersatz Ruecklastschrift",
                    "Beguenstigter/Zahlungspflichtiger",
                    "Kontonummer/IBAN",
                    "BIC (SWIFT-Code)",
                    "Betrag",
                    "Waehrung",
                    "Info",
                ],
                (Some(1), vec![11, 3, 4], [Some(14), n, n, n], c),
            ),
            (
                "DKB",
                &[
                    "Buchungstag",
                    "Wertstellung",
                    "Buchungstext",
                    "Auftraggeber / Begünstigter",
                    "Verwendungszweck",
                    "Kontonummer",
                    "BLZ",
                    "Betrag (EUR)",
                    "Gläubiger-ID",
                    "Mandatsreferenz",
                    "Kundenreferenz",
                ],
                (Some(0), vec![3, 2, 4], [Some(7), n, n, n], Some("EUR")),
            ),
            (
                // Both parties of each payment (read by direction, not as text) and the
                // purpose.
                "DKB (2023)",
                &DKB_2023,
                (Some(0), vec![5], [Some(8), n, n, n], Some("EUR")),
            ),
            (
                "comdirect",
                &[
                    "Buchungstag",
                    "Wertstellung (Valuta)",
                    "Vorgang",
                    "Buchungstext",
                    "Umsatz in EUR",
                ],
                (Some(0), vec![3, 2], [Some(4), n, n, n], Some("EUR")),
            ),
            (
                "Crédit Agricole",
                &["Date", "Libellé", "Débit euros", "Crédit euros"],
                (Some(0), vec![1], [n, Some(2), Some(3), n], Some("EUR")),
            ),
            (
                "Société Générale",
                &[
                    "Date de l'opération",
                    "Libellé",
                    "Détail de l'écriture",
                    "Montant de l'opération",
                    "Devise",
                ],
                (Some(0), vec![1, 2], [Some(3), n, n, n], c),
            ),
            (
                "BNP Paribas",
                &[
                    "Date operation",
                    "Libelle court",
                    "Type operation",
                    "Libelle operation",
                    "Montant operation",
                ],
                (Some(0), vec![3, 1], [Some(4), n, n, n], None),
            ),
            (
                "Nubank card",
                &["date", "title", "amount"],
                (Some(0), vec![1], [Some(2), n, n, n], None),
            ),
            (
                "Nubank account",
                &["Data", "Valor", "Identificador", "Descrição"],
                (Some(0), vec![3], [Some(1), n, n, n], None),
            ),
            (
                "Banco Inter",
                &[
                    "Data Lançamento",
                    "Histórico",
                    "Descrição",
                    "Valor",
                    "Saldo",
                ],
                (Some(0), vec![2, 1], [Some(3), n, n, n], None),
            ),
            (
                "Santander (ES)",
                &[
                    "Fecha Operación",
                    "Fecha Valor",
                    "Concepto",
                    "Importe",
                    "Saldo",
                ],
                (Some(0), vec![2], [Some(3), n, n, n], None),
            ),
            (
                "BBVA (MX)",
                &["Fecha", "Descripción", "Cargo", "Abono", "Saldo"],
                (Some(0), vec![1], [n, Some(2), Some(3), n], None),
            ),
            (
                "YNAB",
                &[
                    "Account",
                    "Flag",
                    "Date",
                    "Payee",
                    "Category Group/Category",
                    "Category Group",
                    "Category",
                    "Memo",
                    "Outflow",
                    "Inflow",
                    "Cleared",
                ],
                (Some(2), vec![3, 7], [n, Some(8), Some(9), n], None),
            ),
            (
                "Actual",
                &["date", "amount", "payee", "notes"],
                (Some(0), vec![2, 3], [Some(1), n, n, n], None),
            ),
        ];
        let wrong: Vec<_> = cases
            .into_iter()
            .filter_map(|(bank, headers, want)| {
                let got = mapped(headers);
                (got != Ok(want.clone())).then(|| format!("{bank}: {got:?}, want {want:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
