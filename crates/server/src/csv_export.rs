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
//! The spreadsheet dialect is for people: its header row and the names of the figures in it are in Spanish
//! ([`spanish_term`], the dashboard's own words), where the program dialect keeps the API's field names.

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
        let header: Vec<&str> = header.iter().map(|code| export.term(code)).collect();
        export.row(header);
        export
    }

    /// How this dialect names a column or a figure: the API's `code` for programs, the Spanish word for the
    /// spreadsheet ([`spanish_term`]; a code it does not know stays as it is).
    pub fn term<'a>(&self, code: &'a str) -> &'a str {
        match self.dialect {
            CsvDialect::Rfc4180 => code,
            CsvDialect::SpanishSpreadsheet => spanish_term(code).unwrap_or(code),
        }
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

/// The Spanish heading of a CSV column or the name of a figure, in the dashboard's words (docs/analytics.md defines
/// each); money columns in minor units say so, rates in basis points say so.
pub fn spanish_term(code: &str) -> Option<&'static str> {
    Some(match code {
        // Columns.
        "venue_id" => "ID del local",
        "timezone" => "Zona horaria",
        "from" => "Desde",
        "to" => "Hasta",
        "figure" => "Cifra",
        "metric" => "Cifra",
        "value_minor" => "Valor (centavos)",
        "value" => "Valor",
        "currency" => "Moneda",
        "start_local" => "Inicio (hora local)",
        "business_day" => "Día de operación",
        "weekday" => "Día de la semana",
        "hour" => "Hora",
        "rank" => "Puesto",
        "item_id" => "ID del plato",
        "name" => "Nombre",
        "quantity" => "Cantidad",
        "sales_minor" => "Ventas (centavos)",
        "member_id" => "ID del miembro",
        "member_name" => "Miembro",
        "gross_minor" => "Ventas brutas (centavos)",
        "tips_minor" => "Propinas (centavos)",
        "cash_minor" => "Efectivo (centavos)",
        "cash_id" => "ID del registro de efectivo",
        "recorded_at" => "Registrado",
        "table" => "Mesa",
        "amount_minor" => "Valor (centavos)",
        "amount" => "Valor",
        "tip_minor" => "Propina (centavos)",
        "tip" => "Propina",
        "recorded_by_id" => "ID de quien lo registró",
        "recorded_by_name" => "Registrado por",
        "voided_at" => "Anulado",
        "voided_by_id" => "ID de quien lo anuló",
        "voided_by_name" => "Anulado por",
        "voided_business_day" => "Día de operación de la anulación",
        "days" => "Días de operación",
        "table_id" => "ID de la mesa",
        "label" => "Mesa",
        "turns_per_day_x100" => "Rotaciones por día (×100)",
        "median_turn_minutes" => "Tiempo por mesa, mediana (min)",
        "p90_turn_minutes" => "Tiempo por mesa, percentil 90 (min)",
        "at" => "Momento",
        "payment_id" => "ID del pago",
        "settled_amount_minor" => "Transferido (centavos)",
        "settled_currency" => "Moneda transferida",
        "tender" => "Medio de pago",
        "taken_by_id" => "ID de quien la recibió",
        "taken_by_name" => "Recibida por",
        // Figures (also columns where a report has one per figure).
        "gross" | "sales" => "Ventas brutas",
        "tax" => "Impuesto",
        "refunds" => "Reembolsos",
        "refund_tax" => "Impuesto reembolsado",
        "net" => "Ventas netas",
        "tips" => "Propinas",
        "collected" => "Cobrado con tarjeta",
        "cash" => "Efectivo",
        "card" => "Tarjeta",
        "unpaid" => "Sin pagar",
        "average_order" => "Pedido promedio",
        "average_ticket" => "Cuenta promedio",
        "deposits_kept" => "Depósitos retenidos",
        "previous_gross" => "Ventas brutas, periodo anterior",
        "previous_net" => "Ventas netas, periodo anterior",
        "previous_tips" => "Propinas, periodo anterior",
        "previous_average_order" => "Pedido promedio, periodo anterior",
        "previous_orders" => "Pedidos, periodo anterior",
        "orders" => "Pedidos",
        "checks" => "Cuentas",
        "payment_success_rate_bp" => "Pagos exitosos (puntos básicos: 100 = 1 %)",
        "payments_ended" => "Pagos terminados",
        "bookings" => "Reservas",
        "covers_booked" => "Cubiertos reservados",
        "covers_seated" => "Cubiertos atendidos",
        "no_shows" => "No llegaron",
        "cancellations" => "Cancelaciones",
        "no_show_rate_bp" => "Tasa de no llegada (puntos básicos: 100 = 1 %)",
        "cancellation_rate_bp" => "Tasa de cancelación (puntos básicos: 100 = 1 %)",
        "turns" => "Rotaciones",
        "tables" => "Mesas",
        "turns_per_table_day_x100" => "Rotaciones por mesa y día (×100)",
        "average_turn_minutes" => "Tiempo por mesa, promedio (min)",
        _ => return None,
    })
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

    #[test]
    fn the_spreadsheet_speaks_spanish_and_programs_keep_the_field_names() {
        let header = ["business_day", "figure", "value_minor", "not_a_term"];
        let mut spanish = CsvExport::new("x.csv", &header, CsvDialect::SpanishSpreadsheet);
        let figure = spanish.term("no_show_rate_bp").to_owned();
        spanish.row(["2026-12-04", &figure, "1250", "x"]);
        assert_eq!(
            spanish.into_text(),
            "\u{feff}Día de operación;Cifra;Valor (centavos);not_a_term\r\n\
             2026-12-04;Tasa de no llegada (puntos básicos: 100 = 1 %);1250;x\r\n"
        );
        let mut plain = CsvExport::new("x.csv", &header, CsvDialect::Rfc4180);
        assert_eq!(plain.term("no_show_rate_bp"), "no_show_rate_bp");
        plain.row(["2026-12-04", "no_show_rate_bp", "1250", "x"]);
        assert_eq!(
            plain.into_text(),
            "business_day,figure,value_minor,not_a_term\r\n2026-12-04,no_show_rate_bp,1250,x\r\n"
        );
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
