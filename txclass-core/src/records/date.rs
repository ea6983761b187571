//! Dates as banks write them: `2024-03-15`, `15/03/2024`, `03/15/2024`, `4/5/15`,
//! `15.03.2024`, `20240315`, `15 Mar 2024`, and timestamps (`2018-03-15 10:53:29 +0000`,
//! `2018-03-15T10:53:29Z`).
//!
//! `05/03/2024` is 5 March in Europe and May 3 in the US: the order of day and month is
//! decided once per file ([`DateOrder`]), from the first date that fits only one order, or
//! by the caller; never guessed row by row. A timestamp's date is the date as written (the
//! bank's booking day), not converted to another time zone.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// The order of day, month and year in a file's numeric dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateOrder {
    /// `2024-03-15`, `2024/03/15`
    Ymd,
    /// `15/03/2024`, `15.03.2024`, `15-03-24`
    Dmy,
    /// `03/15/2024`, `3/15/24`
    Mdy,
}

impl fmt::Display for DateOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DateOrder::Ymd => "YYYY-MM-DD",
            DateOrder::Dmy => "DD/MM/YYYY",
            DateOrder::Mdy => "MM/DD/YYYY",
        })
    }
}

impl FromStr for DateOrder {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ymd" | "yyyy-mm-dd" | "iso" => Ok(DateOrder::Ymd),
            "dmy" | "dd/mm/yyyy" | "dd.mm.yyyy" => Ok(DateOrder::Dmy),
            "mdy" | "mm/dd/yyyy" => Ok(DateOrder::Mdy),
            _ => Err(format!(
                "{s:?} is not a date order: use dmy (DD/MM/YYYY), mdy (MM/DD/YYYY) or ymd (YYYY-MM-DD)"
            )),
        }
    }
}

/// A date's text split into numbers, before the day/month order is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DateText {
    /// Only one reading: year first, month names, or a dotted European date.
    Known(NaiveDate),
    /// Year last: `a` and `b` are the day and the month in the file's order.
    YearLast { a: u32, b: u32, year: i32 },
}

/// What a date says about the file's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrderEvidence {
    /// Either order reads it the same (`2024-03-15`, `05/05/2024`).
    None,
    /// Only this order reads it (`25/03/2024`).
    Only(DateOrder),
    /// Both orders read it, as different days (`05/03/2024`).
    Ambiguous,
}

/// Dates with a month's name, in English (as chrono reads them), the year in four digits.
const NAMED_FORMATS: &[&str] = &[
    "%d %b %Y",
    "%d-%b-%Y",
    "%d %B %Y",
    "%d-%B-%Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
];

/// English weekdays, which some exports write before the date (`Tue 05 Mar 2024`).
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A date with a month's name ([`NAMED_FORMATS`]), after a weekday or not, before a time of
/// day or not (`05 Mar 2024 14:22`). The year is the date's last number: four digits as
/// written, two as [`two_digit_year`] reads them (chrono's `%Y` read `05-Mar-24` as the year
/// 24).
fn named(t: &str) -> Option<NaiveDate> {
    let t = match t.split_once([' ', ',']) {
        Some((first, rest))
            if first.len() >= 3
                && WEEKDAYS.iter().any(|w| {
                    w.get(..first.len())
                        .is_some_and(|w| w.eq_ignore_ascii_case(first))
                }) =>
        {
            rest.trim_start_matches([',', ' '])
        }
        _ => t,
    };
    let t = match t.rsplit_once(' ') {
        Some((date, time)) if time.contains(':') => date,
        _ => t,
    };
    let (head, year) = t.split_at(t.trim_end_matches(|c: char| c.is_ascii_digit()).len());
    let year = match year.len() {
        4 => year.parse().ok()?,
        2 => two_digit_year(year.parse().ok()?),
        _ => return None,
    };
    let t = format!("{head}{year}");
    // The year must be all of that number (`Mar 2024` is no day 20 of the year 24).
    NAMED_FORMATS
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(&t, f).ok())
        .filter(|d| chrono::Datelike::year(d) == year)
}

/// A two-digit year as POSIX `%y` reads it: 69–99 are 1969–1999, 00–68 2000–2068.
fn two_digit_year(y: i32) -> i32 {
    if y >= 69 {
        1900 + y
    } else {
        2000 + y
    }
}

impl DateText {
    /// Splits `s` into numbers; refuses text that is no date in any order.
    pub fn parse(s: &str) -> Result<DateText, String> {
        let t = crate::text::trim(s);
        numeric(t).or_else(|e| named(t).map(DateText::Known).ok_or(e))
    }
    /// What this date says about the file's order (`Only(Ymd)` means it fits no order).
    pub fn evidence(&self) -> OrderEvidence {
        match *self {
            DateText::Known(_) => OrderEvidence::None,
            DateText::YearLast { a, b, year } => {
                let dmy = NaiveDate::from_ymd_opt(year, b, a);
                let mdy = NaiveDate::from_ymd_opt(year, a, b);
                match (dmy, mdy) {
                    (Some(x), Some(y)) if x == y => OrderEvidence::None,
                    (Some(_), Some(_)) => OrderEvidence::Ambiguous,
                    (Some(_), None) => OrderEvidence::Only(DateOrder::Dmy),
                    (None, Some(_)) => OrderEvidence::Only(DateOrder::Mdy),
                    (None, None) => OrderEvidence::Only(DateOrder::Ymd),
                }
            }
        }
    }

    /// The date in `order` (`None` when the file's order is not known yet).
    pub fn to_date(self, order: Option<DateOrder>, shown: &str) -> Result<NaiveDate, String> {
        let (a, b, year) = match self {
            DateText::Known(d) => return Ok(d),
            DateText::YearLast { a, b, year } => (a, b, year),
        };
        let order = match (order, self.evidence()) {
            (Some(o), _) => o,
            (None, OrderEvidence::Only(o)) => o,
            (None, _) if a == b => DateOrder::Dmy,
            (None, _) => {
                return Err(format!(
                    "date {shown:?} fits both DD/MM/YYYY and MM/DD/YYYY and no row of the file decides; choose the date order"
                ))
            }
        };
        let date = match order {
            DateOrder::Dmy => NaiveDate::from_ymd_opt(year, b, a),
            DateOrder::Mdy => NaiveDate::from_ymd_opt(year, a, b),
            DateOrder::Ymd => None,
        };
        date.ok_or_else(|| format!("date {shown:?} is not a {order} date (the file's date order)"))
    }
}

/// The date of a year, a month and a day written in ASCII digits (`2024`, `03`, `15`).
fn ymd(year: &[u8], month: &[u8], day: &[u8]) -> Option<NaiveDate> {
    let n = |d: &[u8]| d.iter().fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    NaiveDate::from_ymd_opt(n(year) as i32, n(month), n(day))
}

/// All-numeric dates and timestamps (`2024-03-15`, `15/03/24`, `20240315`, `… 10:53:29`).
fn numeric(t: &str) -> Result<DateText, String> {
    let invalid =
        || format!("date {t:?} is not a date (YYYY-MM-DD, DD/MM/YYYY, MM/DD/YYYY, DD.MM.YYYY)");
    // `YYYY-MM-DD`, as most exports write it, read without a search: every row's date is read
    // here (once: while the file's date order is open, which such dates never decide, the
    // reader keeps what it read for evidence).
    if let &[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = t.as_bytes() {
        let (year, month, day) = ([y0, y1, y2, y3], [m0, m1], [d0, d1]);
        if year
            .iter()
            .chain(&month)
            .chain(&day)
            .all(u8::is_ascii_digit)
        {
            return ymd(&year, &month, &day)
                .map(DateText::Known)
                .ok_or_else(invalid);
        }
    }
    // A timestamp's date part: up to a space or a `T` that follows a digit.
    let date_part = match t.find(' ') {
        Some(i) => &t[..i],
        None => t,
    };
    let date_part = match date_part.find('T') {
        Some(i) if i > 0 => &date_part[..i],
        _ => date_part,
    };
    if date_part.len() == 8 && date_part.bytes().all(|b| b.is_ascii_digit()) {
        let b = date_part.as_bytes();
        return ymd(&b[..4], &b[4..6], &b[6..])
            .map(DateText::Known)
            .ok_or_else(invalid);
    }
    let sep = date_part
        .chars()
        .find(|c| matches!(c, '-' | '/' | '.'))
        .ok_or_else(invalid)?;
    // Three parts, in an array: every row's date is read here.
    let mut split = date_part.split(sep);
    let (Some(p0), Some(p1), Some(p2), None) =
        (split.next(), split.next(), split.next(), split.next())
    else {
        return Err(invalid());
    };
    let parts = [p0, p1, p2];
    if parts
        .iter()
        .any(|p| p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid());
    }
    let num = |p: &str| p.parse::<u32>().map_err(|_| invalid());
    if parts[0].len() == 4 {
        return NaiveDate::from_ymd_opt(num(parts[0])? as i32, num(parts[1])?, num(parts[2])?)
            .map(DateText::Known)
            .ok_or_else(invalid);
    }
    if parts[0].len() > 2 || parts[1].len() > 2 {
        return Err(invalid());
    }
    let year = match parts[2].len() {
        4 => num(parts[2])? as i32,
        2 => two_digit_year(num(parts[2])? as i32),
        _ => return Err(invalid()),
    };
    let (a, b) = (num(parts[0])?, num(parts[1])?);
    if sep == '.' {
        // Dotted dates are day first wherever they are written (DE, AT, CH, PL, RU, …).
        return NaiveDate::from_ymd_opt(year, b, a)
            .map(DateText::Known)
            .ok_or_else(invalid);
    }
    let text = DateText::YearLast { a, b, year };
    if text.evidence() == OrderEvidence::Only(DateOrder::Ymd) {
        return Err(invalid());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn read(s: &str, order: Option<DateOrder>) -> Result<NaiveDate, String> {
        DateText::parse(s)?.to_date(order, s)
    }

    #[test]
    fn formats_and_timestamps() {
        assert_eq!(read("2024-03-15", None), Ok(d(2024, 3, 15)));
        assert_eq!(read("2018-03-15 10:53:29 +0000", None), Ok(d(2018, 3, 15)));
        assert_eq!(read("2018-03-15T23:53:29-05:00", None), Ok(d(2018, 3, 15)));
        assert_eq!(read("15.03.2024", None), Ok(d(2024, 3, 15)));
        assert_eq!(read("05.03.2024", None), Ok(d(2024, 3, 5)));
        assert_eq!(read("20240315", None), Ok(d(2024, 3, 15)));
        assert_eq!(read("15 Mar 2024", None), Ok(d(2024, 3, 15)));
        assert_eq!(read("Mar 15, 2024", None), Ok(d(2024, 3, 15)));
        // Two-digit years with a month's name, weekdays and times of day.
        assert_eq!(read("05-Mar-24", None), Ok(d(2024, 3, 5)));
        assert_eq!(read("05 Mar 99", None), Ok(d(1999, 3, 5)));
        assert_eq!(read("Tue 05 Mar 2024", None), Ok(d(2024, 3, 5)));
        assert_eq!(read("Tuesday, 5 March 2024", None), Ok(d(2024, 3, 5)));
        assert_eq!(read("Tue, Mar 5, 2024", None), Ok(d(2024, 3, 5)));
        assert_eq!(read("05 Mar 2024 14:22", None), Ok(d(2024, 3, 5)));
        assert_eq!(read("05-March-2024", None), Ok(d(2024, 3, 5)));
        assert_eq!(read("25/03/2024", None), Ok(d(2024, 3, 25)));
        assert_eq!(read("05/05/2024", None), Ok(d(2024, 5, 5)));
        assert_eq!(read("4/5/15", Some(DateOrder::Mdy)), Ok(d(2015, 4, 5)));
        assert_eq!(read("4/5/15", Some(DateOrder::Dmy)), Ok(d(2015, 5, 4)));
        assert_eq!(read("1/2/99", Some(DateOrder::Dmy)), Ok(d(1999, 2, 1)));
        assert_eq!(read("15/03/2024 10:53", None), Ok(d(2024, 3, 15)));
        for bad in [
            "",
            "2024-13-01",
            "2024-02-30",
            "2024-00-10",
            "2024-1a-01",
            "32/13/2024",
            "15/03/202",
            "tomorrow",
            "1/2/3/4",
            "05 Mar 024",
            "05 Mar 2",
            "Mar 2024",
            "Today 05 Mar 2024",
        ] {
            assert!(read(bad, Some(DateOrder::Dmy)).is_err(), "{bad:?} was read");
        }
    }

    #[test]
    fn the_order_is_evidence_or_given() {
        let ev = |s: &str| DateText::parse(s).unwrap().evidence();
        assert_eq!(ev("25/03/2024"), OrderEvidence::Only(DateOrder::Dmy));
        assert_eq!(ev("03/25/2024"), OrderEvidence::Only(DateOrder::Mdy));
        assert_eq!(ev("05/03/2024"), OrderEvidence::Ambiguous);
        assert_eq!(ev("2024-03-05"), OrderEvidence::None);
        assert_eq!(read("05/03/2024", Some(DateOrder::Mdy)), Ok(d(2024, 5, 3)));
        assert!(read("05/03/2024", None).unwrap_err().contains("both"));
        let e = read("03/25/2024", Some(DateOrder::Dmy)).unwrap_err();
        assert!(e.contains("DD/MM/YYYY"), "{e}");
    }

    proptest::proptest! {
        /// Any date written day first or month first, four- or two-digit year, reads back
        /// in its order; it is ambiguous exactly when day and month differ and both are ≤ 12.
        #[test]
        fn written_dates_read_back(days in 0i64..36_500) {
            let date = d(1970, 1, 1) + chrono::Duration::days(days);
            for (format, order) in [("%d/%m/%Y", DateOrder::Dmy), ("%m/%d/%Y", DateOrder::Mdy), ("%d-%m-%y", DateOrder::Dmy), ("%m/%d/%y", DateOrder::Mdy)] {
                let text = date.format(format).to_string();
                let year_ok = format.ends_with("%Y") || (1969..2069).contains(&chrono::Datelike::year(&date));
                if year_ok {
                    proptest::prop_assert_eq!(read(&text, Some(order)), Ok(date));
                }
                let (day, month) = (chrono::Datelike::day(&date), chrono::Datelike::month(&date));
                let ambiguous = day != month && day <= 12;
                proptest::prop_assert_eq!(
                    DateText::parse(&text).unwrap().evidence() == OrderEvidence::Ambiguous,
                    ambiguous
                );
            }
            proptest::prop_assert_eq!(read(&date.format("%d.%m.%Y").to_string(), None), Ok(date));
            proptest::prop_assert_eq!(read(&date.and_hms_opt(10, 53, 29).unwrap().format("%Y-%m-%d %H:%M:%S +0000").to_string(), None), Ok(date));
        }
    }
}
