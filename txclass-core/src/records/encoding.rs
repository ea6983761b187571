//! The text encodings of statement files, decided in one place for every reader.
//!
//! Bank exports come in three:
//! * UTF-8, with or without a byte-order mark;
//! * UTF-16 with a byte-order mark, which Excel writes as "Unicode text" (tab-separated) and
//!   some banks' exports are in: decoded as the file streams in ([`decoded`]);
//! * a single-byte Windows code page, Windows-1252, which older European exports and most
//!   OFX 1.x and MT940 files are in. Latin-1 is the same but for bytes `0x80`–`0x9F`, where
//!   Windows-1252 has `€`, `’`, `–` and `…`: read as Latin-1, `MCDONALD’S` of such a file
//!   (`0x92`) was a control character between `MCDONALD` and `S`, two words for the
//!   classifier, and `5€` (`0x80`) printed back as `5` and an invisible character.
//!
//! A file without a UTF-16 mark is read a cell at a time ([`push_text`]): a cell that is valid
//! UTF-8 is UTF-8, any other is Windows-1252, since a UTF-8 file may carry one cell pasted
//! from another (a merchant's name copied from a single-byte export).
//!
//! Why crates: `encoding_rs` holds the WHATWG encodings that browsers decode (its
//! Windows-1252 is also what the WHATWG calls `latin1` and `iso-8859-1`), and
//! `encoding_rs_io` transcodes a reader as it streams, passing a file with no UTF-16 mark
//! through as it is; both build in seconds.

use std::io::Read;

use encoding_rs::WINDOWS_1252;
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

/// `reader`'s bytes with a UTF-16 file decoded to UTF-8 and a byte-order mark dropped; the
/// bytes of any other file as they are (invalid UTF-8 included: [`push_text`] reads it).
pub(super) fn decoded<R: Read>(reader: R) -> DecodeReaderBytes<R, Vec<u8>> {
    DecodeReaderBytesBuilder::new()
        .utf8_passthru(true)
        .strip_bom(true)
        .build(reader)
}

/// The text of `bytes`: UTF-8, or Windows-1252 when they are not UTF-8.
pub(super) fn text(bytes: &[u8]) -> String {
    let mut out = String::new();
    push_text(&mut out, bytes);
    out
}

/// Appends [`text`]`(bytes)` to `out`.
pub(super) fn push_text(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&WINDOWS_1252.decode_without_bom_handling(bytes).0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        decoded(bytes).read_to_end(&mut out).unwrap();
        out
    }

    fn utf16(s: &str, big_endian: bool) -> Vec<u8> {
        let mut out = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for u in s.encode_utf16() {
            out.extend(if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn utf16_files_are_decoded_and_marks_dropped() {
        let s = "Datum\tVerwendungszweck\tBetrag\n05.03.2024\tREWE München 5€ 🙂\t-12,50\n";
        for big_endian in [false, true] {
            assert_eq!(
                read_all(&utf16(s, big_endian)),
                s.as_bytes(),
                "{big_endian}"
            );
        }
        assert_eq!(
            read_all(&[b"\xEF\xBB\xBF".as_slice(), s.as_bytes()].concat()),
            s.as_bytes()
        );
    }

    #[test]
    fn other_files_pass_through_as_they_are() {
        // Bytes that are not UTF-8 stay for `push_text` to read cell by cell.
        let bytes = b"date;description\n2024-03-05;CAF\xc9 M\xfcLLER \x80;\xff\xfe\n";
        assert_eq!(read_all(bytes), bytes);
        assert_eq!(read_all(b""), b"");
    }

    #[test]
    fn single_byte_text_is_windows_1252() {
        assert_eq!(
            text(b"MCDONALD\x92S 5\x80 CAF\xc9 \x96 \x85"),
            "MCDONALD’S 5€ CAFÉ – …"
        );
        // Latin-1's letters are Windows-1252's too; UTF-8 stays UTF-8.
        assert_eq!(text(b"Descri\xe7\xe3o"), "Descrição");
        assert_eq!(text("Descrição ’".as_bytes()), "Descrição ’");
    }
}
