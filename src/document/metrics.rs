//! Glyph widths of the two standard fonts documents use (Helvetica and Helvetica-Bold, in the
//! PDF's WinAnsiEncoding), so text can be right-aligned, centred and wrapped without embedding
//! a font. The numbers are the advance widths of Adobe's Core 14 font metrics (AFM), in
//! thousandths of the font size, for the codes 32 to 255; unused codes are 0.

/// One of the two built-in fonts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Font {
    /// Helvetica.
    Regular,
    /// Helvetica-Bold.
    Bold,
}

/// The byte WinAnsiEncoding uses for `c`, if it has one.
pub(crate) fn win_ansi(c: char) -> Option<u8> {
    let code = u32::from(c);
    match code {
        // ASCII, then Latin-1 (both map to themselves; 127 is undefined).
        0x20..=0x7E | 0xA0..=0xFF => u8::try_from(code).ok(),
        _ => {
            let byte = match c {
                '\u{20AC}' => 0x80,
                '\u{201A}' => 0x82,
                '\u{0192}' => 0x83,
                '\u{201E}' => 0x84,
                '\u{2026}' => 0x85,
                '\u{2020}' => 0x86,
                '\u{2021}' => 0x87,
                '\u{02C6}' => 0x88,
                '\u{2030}' => 0x89,
                '\u{0160}' => 0x8A,
                '\u{2039}' => 0x8B,
                '\u{0152}' => 0x8C,
                '\u{017D}' => 0x8E,
                '\u{2018}' => 0x91,
                '\u{2019}' => 0x92,
                '\u{201C}' => 0x93,
                '\u{201D}' => 0x94,
                '\u{2022}' => 0x95,
                '\u{2013}' => 0x96,
                '\u{2014}' => 0x97,
                '\u{02DC}' => 0x98,
                '\u{2122}' => 0x99,
                '\u{0161}' => 0x9A,
                '\u{203A}' => 0x9B,
                '\u{0153}' => 0x9C,
                '\u{017E}' => 0x9E,
                '\u{0178}' => 0x9F,
                _ => return None,
            };
            Some(byte)
        }
    }
}

/// Text in WinAnsiEncoding: characters the encoding lacks become `?`, control characters a
/// space, so nothing a customer typed can break the page.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    text.chars().map(|c| if c.is_control() { b' ' } else { win_ansi(c).unwrap_or(b'?') }).collect()
}

/// The width of encoded text at `size` points.
pub(crate) fn width(font: Font, size: f32, encoded: &[u8]) -> f32 {
    let table = match font {
        Font::Regular => &REGULAR,
        Font::Bold => &BOLD,
    };
    let units: u32 = encoded
        .iter()
        .map(|&b| b.checked_sub(32).map_or(0, |i| u32::from(table[usize::from(i)])))
        .sum();
    units as f32 * size / 1000.0
}

#[rustfmt::skip]
const REGULAR: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 578, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];
#[rustfmt::skip]
const BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_latin1_and_typographic_characters_are_encoded() {
        assert_eq!(encode("A z~"), b"A z~");
        assert_eq!(encode("Café – ü"), vec![b'C', b'a', b'f', 0xE9, b' ', 0x96, b' ', 0xFC]);
        assert_eq!(encode("漢\n"), b"? ");
    }

    #[test]
    fn widths_follow_the_helvetica_metrics() {
        // Digits are 556 units wide in both weights, so amounts line up.
        assert!((width(Font::Regular, 10.0, b"51.34") - 25.02).abs() < 0.001);
        assert!((width(Font::Bold, 10.0, b"51.34") - 25.02).abs() < 0.001);
        assert!(width(Font::Bold, 10.0, b"m") > width(Font::Regular, 10.0, b"m"));
    }
}
