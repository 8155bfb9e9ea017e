//! QR codes for tables: SVG for screens, PNG for anything that wants a bitmap, and a printable A4 PDF sheet of a
//! venue's tables (vector QR codes, so they print sharp at any size).

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use qrcode::{Color, EcLevel, QrCode};

/// Modules of white border around a code, as the QR specification asks.
const QUIET_ZONE: usize = 4;

fn code(text: &str) -> Option<QrCode> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()
}

pub fn svg(text: &str) -> String {
    code(text)
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default()
}

/// An 8-bit greyscale PNG, `scale` pixels per module, quiet zone included.
pub fn png(text: &str, scale: usize) -> Option<Vec<u8>> {
    let code = code(text)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * scale;
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (row, column) = (index / modules + QUIET_ZONE, index % modules + QUIET_ZONE);
            for y in row * scale..(row + 1) * scale {
                pixels[y * side + column * scale..y * side + (column + 1) * scale].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let side_u32 = u32::try_from(side).ok()?;
    let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}

/// Text for the PDF's standard Helvetica in WinAnsiEncoding (Windows-1252, PDF 32000 Annex D): Latin-1 covers
/// Spanish, and the typographic marks a venue's name carries (— – ‘ ’ “ ” • … €) have their own codes; anything
/// else becomes `?`.
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            _ => u8::try_from(u32::from(c))
                .ok()
                .filter(|b| *b >= 0x20 && !(0x7f..0xa0).contains(b))
                .unwrap_or(b'?'),
        })
        .collect()
}

/// One A4 sheet (more if needed) with every table's QR code, label and the venue's name: 2 × 3 codes a page.
pub fn pdf_sheet(venue: &str, tables: &[(String, String)]) -> Vec<u8> {
    const WIDTH: f32 = 595.0;
    const HEIGHT: f32 = 842.0;
    const PER_PAGE: usize = 6;
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let mut next = 4;
    let mut alloc = || {
        next += 1;
        Ref::new(next)
    };
    let pages: Vec<&[(String, String)]> = if tables.is_empty() {
        vec![&[]]
    } else {
        tables.chunks(PER_PAGE).collect()
    };
    let mut page_ids = Vec::new();
    for chunk in pages {
        let (page_id, content_id) = (alloc(), alloc());
        page_ids.push(page_id);
        let mut content = Content::new();
        content.begin_text();
        content.set_font(Name(b"F1"), 18.0);
        content.next_line(48.0, HEIGHT - 60.0);
        content.show(Str(&latin1(venue)));
        content.end_text();
        for (slot, (label, url)) in chunk.iter().enumerate() {
            let cell_x = 48.0 + (slot % 2) as f32 * 260.0;
            let cell_top = HEIGHT - 100.0 - (slot / 2) as f32 * 245.0;
            if let Some(code) = code(url) {
                let modules = code.width();
                let module = 190.0 / modules as f32;
                content.set_fill_gray(0.0);
                for (index, color) in code.to_colors().iter().enumerate() {
                    if *color == Color::Dark {
                        let (row, column) = (index / modules, index % modules);
                        content.rect(
                            cell_x + column as f32 * module,
                            cell_top - (row + 1) as f32 * module,
                            module,
                            module,
                        );
                    }
                }
                content.fill_nonzero();
            }
            content.begin_text();
            content.set_font(Name(b"F1"), 14.0);
            content.next_line(cell_x, cell_top - 212.0);
            content.show(Str(&latin1(label)));
            content.end_text();
        }
        pdf.stream(content_id, &content.finish());
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        page.resources().fonts().pair(Name(b"F1"), font);
        page.finish();
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX))
        .kids(page_ids);
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_is_a_real_image_of_the_code() {
        let bytes = png("https://localhost/t/abc", 4).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width % 4, 0);
        assert_eq!(buffer[0], 255, "quiet zone is white");
        assert!(buffer.contains(&0), "modules are black");
    }

    #[test]
    fn pdf_sheet_names_the_venue_and_every_table() {
        let tables: Vec<(String, String)> = (1..=7)
            .map(|n| (format!("Mesa {n}"), format!("https://localhost/t/token{n}")))
            .collect();
        let pdf = pdf_sheet("Fonda Ñandú", &tables);
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(text.contains("/Count 2"), "seven tables take two pages");
        assert!(text.contains("(Mesa 7)"));
        // Non-ASCII text is written as a hex string: "Fonda Ñandú" in WinAnsi.
        assert!(
            text.contains("<466F6E646120D1616E64FA>"),
            "the venue's name heads the sheet"
        );
        assert_eq!(
            latin1("Ñandú € 鳥\u{85}"),
            b"\xd1and\xfa \x80 ??",
            "Spanish letters and the euro in WinAnsi; others become ?"
        );
        // A venue's name keeps its dashes and quotes ("La Fonda — Chapinero" printed "La Fonda ? Chapinero").
        assert_eq!(
            latin1("La Fonda — “Chapinero” 5–6"),
            b"La Fonda \x97 \x93Chapinero\x94 5\x966"
        );
    }
}
