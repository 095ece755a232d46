//! The page layout both documents share: A4 pages drawn with PDF's built-in Helvetica, so the
//! file needs no font files on the machine that makes it or the one that opens it, and its text
//! stays extractable (WinAnsiEncoding maps every byte back to a character).
//!
//! Coordinates are PDF points from the bottom-left corner; callers lay out top-down with `y`.

use pdf_writer::types::LineCapStyle;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::metrics::{self, Font};

/// A4 width in points.
pub(crate) const PAGE_WIDTH: f32 = 595.0;
/// A4 height in points.
pub(crate) const PAGE_HEIGHT: f32 = 842.0;
/// Left and right margin.
pub(crate) const MARGIN: f32 = 50.0;
/// The right edge of the content.
pub(crate) const RIGHT: f32 = PAGE_WIDTH - MARGIN;
/// The first baseline's ceiling on each page.
pub(crate) const TOP: f32 = PAGE_HEIGHT - MARGIN;
/// Content stops above this, leaving room for the footer.
const BOTTOM: f32 = 70.0;

/// Colours: near-black text, grey labels, light bands and rules, one accent for titles.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ink {
    /// Body text.
    Text,
    /// Labels and notes.
    Muted,
    /// Titles.
    Accent,
    /// A warning (a refund).
    Alert,
}

impl Ink {
    fn rgb(self) -> (f32, f32, f32) {
        match self {
            Ink::Text => (0.11, 0.12, 0.14),
            Ink::Muted => (0.42, 0.45, 0.50),
            Ink::Accent => (0.07, 0.27, 0.45),
            Ink::Alert => (0.70, 0.11, 0.11),
        }
    }
}

/// How a run of text looks: font, size in points, colour.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style(pub(crate) Font, pub(crate) f32, pub(crate) Ink);

/// A document being drawn, page by page.
pub(crate) struct Sheet {
    title: String,
    footer: String,
    done: Vec<Content>,
    page: Content,
    /// The current baseline, moving down the page.
    pub(crate) y: f32,
}

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

impl Sheet {
    /// An empty first page; `title` goes into the file's metadata, `footer` under every page.
    pub(crate) fn new(title: impl Into<String>, footer: impl Into<String>) -> Sheet {
        Sheet {
            title: title.into(),
            footer: footer.into(),
            done: Vec::new(),
            page: Content::new(),
            y: TOP,
        }
    }

    /// Draws `text` with its left end at `x`.
    pub(crate) fn text(&mut self, x: f32, y: f32, style: Style, text: &str) {
        let encoded = metrics::encode(text);
        self.show(x, y, style, &encoded);
    }

    /// Draws `text` with its right end at `right` (amounts line up on their last digit).
    pub(crate) fn text_right(&mut self, right: f32, y: f32, style: Style, text: &str) {
        let encoded = metrics::encode(text);
        let x = right - metrics::width(style.0, style.1, &encoded);
        self.show(x, y, style, &encoded);
    }

    /// Draws `text` at `x`, cut short with an ellipsis if it is wider than `max_width`.
    pub(crate) fn text_fit(&mut self, x: f32, y: f32, style: Style, max_width: f32, text: &str) {
        let Style(font, size, _) = style;
        let mut encoded = metrics::encode(text);
        if metrics::width(font, size, &encoded) > max_width {
            let ellipsis = metrics::width(font, size, &[0x85]);
            while !encoded.is_empty() && metrics::width(font, size, &encoded) + ellipsis > max_width
            {
                encoded.pop();
            }
            encoded.push(0x85);
        }
        self.show(x, y, style, &encoded);
    }

    fn show(&mut self, x: f32, y: f32, Style(font, size, ink): Style, encoded: &[u8]) {
        let (r, g, b) = ink.rgb();
        let name = match font {
            Font::Regular => REGULAR,
            Font::Bold => BOLD,
        };
        // One text object per run: extractors (pdftotext, lopdf) then see each run as a unit.
        self.page
            .set_fill_rgb(r, g, b)
            .begin_text()
            .set_font(name, size)
            .next_line(x, y)
            .show(Str(encoded))
            .end_text();
    }

    /// A horizontal rule from `x1` to `x2`.
    pub(crate) fn rule(&mut self, x1: f32, x2: f32, y: f32, width: f32, gray: f32) {
        self.page
            .save_state()
            .set_stroke_gray(gray)
            .set_line_width(width)
            .set_line_cap(LineCapStyle::ButtCap)
            .move_to(x1, y)
            .line_to(x2, y)
            .stroke()
            .restore_state();
    }

    /// A filled band (table headers, the amount box), `y` being its bottom edge.
    pub(crate) fn band(&mut self, x: f32, y: f32, width: f32, height: f32, gray: f32) {
        self.page
            .save_state()
            .set_fill_gray(gray)
            .rect(x, y, width, height)
            .fill_nonzero()
            .restore_state();
    }

    /// Starts a new page unless `height` more points fit above the footer; says whether it did.
    pub(crate) fn ensure_room(&mut self, height: f32) -> bool {
        if self.y - height >= BOTTOM {
            return false;
        }
        let full = std::mem::replace(&mut self.page, Content::new());
        self.done.push(full);
        self.y = TOP;
        true
    }

    /// Splits `text` into lines no wider than `max_width` (at word boundaries where it can).
    pub(crate) fn wrap(font: Font, size: f32, max_width: f32, text: &str) -> Vec<String> {
        let fits = |s: &str| metrics::width(font, size, &metrics::encode(s)) <= max_width;
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate =
                if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if fits(&candidate) {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A single word wider than the column is broken by characters.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if !fits(&piece) {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// The finished PDF file: every page with its footer and "page n of m".
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let last = std::mem::replace(&mut self.page, Content::new());
        self.done.push(last);
        let count = self.done.len();

        let catalog_id = Ref::new(1);
        let tree_id = Ref::new(2);
        let regular_id = Ref::new(3);
        let bold_id = Ref::new(4);
        let info_id = Ref::new(5);
        // Each page is two objects: the page and its content stream.
        let mut next = Ref::new(6);
        let page_ids: Vec<(Ref, Ref)> = (0..count).map(|_| (next.bump(), next.bump())).collect();

        let mut pdf = Pdf::new();
        pdf.catalog(catalog_id).pages(tree_id).lang(TextStr("en"));
        pdf.pages(tree_id)
            .kids(page_ids.iter().map(|(page, _)| *page))
            .count(i32::try_from(count).unwrap_or(i32::MAX));
        for (id, base) in [(regular_id, "Helvetica"), (bold_id, "Helvetica-Bold")] {
            pdf.type1_font(id)
                .base_font(Name(base.as_bytes()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        pdf.document_info(info_id)
            .title(TextStr(&self.title))
            .creator(TextStr("Settle"))
            .producer(TextStr("Settle (pdf-writer)"));

        for (n, (content, (page_id, content_id))) in
            self.done.into_iter().zip(page_ids.iter()).enumerate()
        {
            let mut content = content;
            let footer = format!("{}  ·  Page {} of {count}", self.footer, n + 1);
            let encoded = metrics::encode(&footer);
            let x = (PAGE_WIDTH - metrics::width(Font::Regular, 7.5, &encoded)) / 2.0;
            let (r, g, b) = Ink::Muted.rgb();
            content
                .save_state()
                .set_stroke_gray(0.82)
                .set_line_width(0.5)
                .move_to(MARGIN, 50.0)
                .line_to(RIGHT, 50.0)
                .stroke()
                .restore_state()
                .set_fill_rgb(r, g, b)
                .begin_text()
                .set_font(REGULAR, 7.5)
                .next_line(x, 38.0)
                .show(Str(&encoded))
                .end_text();

            let mut page = pdf.page(*page_id);
            page.parent(tree_id)
                .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
                .contents(*content_id);
            page.resources().fonts().pair(REGULAR, regular_id).pair(BOLD, bold_id);
            page.finish();
            pdf.stream(*content_id, &content.finish());
        }
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_breaks_only_overlong_ones() {
        let lines = Sheet::wrap(Font::Regular, 10.0, 60.0, "Short-term motor cover, 4 days");
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), "Short-term motor cover, 4 days");
        let long = Sheet::wrap(Font::Regular, 10.0, 30.0, "ABCDEFGHIJKLMNOP");
        assert!(long.len() > 1);
        assert_eq!(long.concat(), "ABCDEFGHIJKLMNOP");
        assert_eq!(Sheet::wrap(Font::Regular, 10.0, 30.0, ""), vec![String::new()]);
    }

    #[test]
    fn a_sheet_becomes_a_pdf_with_a_page_per_break() {
        let mut sheet = Sheet::new("Test", "Footer");
        sheet.text(MARGIN, TOP, Style(Font::Bold, 12.0, Ink::Text), "Hello (world) \\ Café");
        sheet.y = BOTTOM + 1.0;
        assert!(sheet.ensure_room(20.0));
        sheet.text_right(RIGHT, sheet.y, Style(Font::Regular, 10.0, Ink::Muted), "51.34");
        let bytes = sheet.finish();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/Count 2"));
        assert!(text.contains("/WinAnsiEncoding"));
    }
}
