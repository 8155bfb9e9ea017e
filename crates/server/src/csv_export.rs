//! The one writer every CSV export goes through: RFC 4180 records (CRLF, quoting where needed) written by the `csv`
//! crate, with every cell neutralised against formula injection first.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and a tab or carriage return can
//! hide such a start), so any text a guest, a member or Stripe wrote could run on the reader's machine (OWASP, "CSV
//! Injection"). Such a cell gets a leading `'`, which spreadsheets show as text and do not display. A plain number
//! (`-12500`, `+3`, `-0.5`) is left as it is: it cannot carry a formula, and a refund's negative amount must stay a
//! number.
//!
//! Two dialects: RFC 4180 (`,`, a decimal point, no byte-order mark) for programs, and the one a spreadsheet in a
//! Spanish-speaking locale opens by a double click ([`CsvDialect::SpanishSpreadsheet`]): Excel with Colombian
//! regional settings splits cells at the locale's list separator (`;`, because the decimal separator is `,`), reads a
//! file without a byte-order mark in the system's legacy code page ("Sopa del dÃ­a"), and reads `17500.50` as text.

use std::borrow::Cow;

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// How the document is written: for programs, or for a spreadsheet in a Spanish-speaking locale (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvDialect {
    /// RFC 4180: `,` between cells, CRLF, a decimal point, no byte-order mark (`format=csv`).
    Rfc4180,
    /// UTF-8 with a byte-order mark, `;` between cells, CRLF, and a decimal comma in plain numbers (`format=csv-es`).
    SpanishSpreadsheet,
}

impl CsvDialect {
    /// The dialect a `format` query value asks for: `csv` or `csv-es`; `None` for anything else.
    pub fn from_format(format: &str) -> Option<Self> {
        match format {
            "csv" => Some(Self::Rfc4180),
            "csv-es" => Some(Self::SpanishSpreadsheet),
            _ => None,
        }
    }
}

/// A CSV document being written: a header row, then records with as many cells.
pub struct CsvExport {
    writer: csv::Writer<Vec<u8>>,
    filename: &'static str,
    dialect: CsvDialect,
}

impl CsvExport {
    /// Starts a document named `filename` (as the download's `Content-Disposition` states it) with its header row.
    pub fn new(filename: &'static str, header: &[&str], dialect: CsvDialect) -> Self {
        let (delimiter, preamble): (u8, &[u8]) = match dialect {
            CsvDialect::Rfc4180 => (b',', b""),
            CsvDialect::SpanishSpreadsheet => (b';', "\u{feff}".as_bytes()),
        };
        let mut export = Self {
            writer: csv::WriterBuilder::new()
                .delimiter(delimiter)
                .terminator(csv::Terminator::CRLF)
                .from_writer(preamble.to_vec()),
            filename,
            dialect,
        };
        export.row(header.iter().copied());
        export
    }

    /// Appends one record; each cell is neutralised (see the module's docs), and a plain number takes the dialect's
    /// decimal separator.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let record: Vec<String> = cells
            .into_iter()
            .map(|cell| {
                let cell = neutralise(cell.as_ref());
                if self.dialect == CsvDialect::SpanishSpreadsheet && is_plain_number(&cell) {
                    cell.replace('.', ",")
                } else {
                    cell.into_owned()
                }
            })
            .collect();
        // Writing into a Vec cannot fail, and the writer is built without a fixed record length.
        let _ = self.writer.write_record(&record);
    }

    /// The document's text (with its byte-order mark, in the dialect that has one).
    pub fn into_text(self) -> String {
        let bytes = self.writer.into_inner().unwrap_or_default();
        // Every cell went in as UTF-8 and the writer adds only ASCII.
        String::from_utf8(bytes).unwrap_or_default()
    }
}

impl IntoResponse for CsvExport {
    fn into_response(self) -> Response {
        let disposition = format!("attachment; filename=\"{}\"", self.filename);
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            self.into_text(),
        )
            .into_response()
    }
}

/// The cell as a spreadsheet may safely read it: a leading `'` when it would start a formula (module docs).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A sign, digits, and at most one decimal point followed by digits.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn read_back(text: &str) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.expect("valid CSV").iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn formula_starts_are_neutralised_and_numbers_are_not() {
        for risky in [
            "=HYPERLINK(\"http://x\")",
            "+1+2",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "-",
            "+",
        ] {
            assert_eq!(neutralise(risky), format!("'{risky}"), "{risky:?}");
        }
        for plain in ["-12500", "+3", "-0.5", "189000", "Mesa 4", "", "a=b"] {
            assert_eq!(neutralise(plain), plain, "{plain:?}");
        }
    }

    #[test]
    fn records_are_rfc_4180_with_crlf_and_quotes_where_needed() {
        let mut export = CsvExport::new("x.csv", &["a", "b"], CsvDialect::Rfc4180);
        export.row(["Sopa, del día", "dijo \"hola\"\nadiós"]);
        let text = export.into_text();
        assert_eq!(text, "a,b\r\n\"Sopa, del día\",\"dijo \"\"hola\"\"\nadiós\"\r\n");
    }

    #[test]
    fn a_spanish_spreadsheet_gets_a_byte_order_mark_semicolons_and_decimal_commas() {
        let mut export = CsvExport::new("x.csv", &["plato", "valor"], CsvDialect::SpanishSpreadsheet);
        export.row(["Sopa del día; grande", "17500.50"]);
        export.row(["=1+1", "-12500"]);
        export.row(["v1.2 beta", "3"]);
        let text = export.into_text();
        assert_eq!(
            text,
            "\u{feff}plato;valor\r\n\"Sopa del día; grande\";17500,50\r\n'=1+1;-12500\r\nv1.2 beta;3\r\n"
        );
        let read: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(b';')
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(read[1], ["Sopa del día; grande", "17500,50"]);
        assert_eq!(
            CsvDialect::from_format("csv-es"),
            Some(CsvDialect::SpanishSpreadsheet)
        );
        assert_eq!(CsvDialect::from_format("xlsx"), None);
    }

    proptest! {
        /// Whatever a cell holds, the document reads back to the neutralised cells, one record per row, and no cell
        /// read back starts a formula unless it is a plain number.
        #[test]
        fn any_cells_read_back_as_written_and_never_start_a_formula(
            rows in proptest::collection::vec(proptest::collection::vec(any::<String>(), 3), 0..8)
        ) {
            let mut export = CsvExport::new("p.csv", &["x", "y", "z"], CsvDialect::Rfc4180);
            for row in &rows {
                export.row(row);
            }
            let read = read_back(&export.into_text());
            prop_assert_eq!(read.len(), rows.len() + 1);
            for (written, back) in rows.iter().zip(&read[1..]) {
                let expected: Vec<String> = written.iter().map(|c| neutralise(c).into_owned()).collect();
                prop_assert_eq!(&expected, back);
                for cell in back {
                    prop_assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']) || is_plain_number(cell));
                }
            }
        }
    }
}
