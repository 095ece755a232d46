//! The dashboard's charts, drawn on the server as SVG with `plotters` and embedded inline: no
//! script, no image request, and the page's CSP holds (plotters writes colours as attributes,
//! never `style`). Each chart is an `<svg role="img">` with a `<title>`; the page repeats its
//! numbers in a table for screen readers.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{BucketRow, GatewayRow};

/// Chart colours, in outcome order (paid, refunded, failed, cancelled, open).
const OUTCOME_COLOURS: [RGBColor; 5] = [
    RGBColor(0x1f, 0x7a, 0x4d),
    RGBColor(0x6b, 0x5b, 0xb5),
    RGBColor(0xc0, 0x39, 0x2b),
    RGBColor(0x8a, 0x8f, 0x98),
    RGBColor(0xe0, 0x9f, 0x1f),
];
const INK: RGBColor = RGBColor(0x22, 0x28, 0x30);
const FONT: &str = "sans-serif";

/// Why a chart couldn't be drawn (the page then shows only its table).
type ChartError = String;

fn err<E: std::fmt::Debug>(e: E) -> ChartError {
    format!("{e:?}")
}

/// Gives plotters' SVG an accessible, scalable opening tag: `viewBox` instead of a fixed size
/// (it scales to the column's width), `role="img"` and a `<title>` naming what it shows.
fn accessible(svg: String, id: &str, title: &str, (w, h): (u32, u32)) -> String {
    let body = match svg.find('>') {
        Some(end) if svg.starts_with("<svg") => &svg[end + 1..],
        _ => svg.as_str(),
    };
    let title = html_escape(title);
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title" class="chart-svg" id="{id}" preserveAspectRatio="xMidYMid meet"><title id="{id}-title">{title}</title>{body}"#
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Payments per hour or day, stacked by outcome, with a legend.
pub fn payments_per_bucket(
    buckets: &[BucketRow],
    labels: &[&str; 5],
    title: &str,
) -> Result<String, ChartError> {
    const SIZE: (u32, u32) = (760, 320);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw_buckets(&root, buckets, labels)?;
        root.present().map_err(err)?;
    }
    Ok(accessible(svg, "chart-payments", title, SIZE))
}

fn draw_buckets(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    buckets: &[BucketRow],
    labels: &[&str; 5],
) -> Result<(), ChartError> {
    let n = buckets.len().max(1) as u32;
    let top = buckets.iter().map(|b| b.counts.iter().sum::<i64>()).max().unwrap_or(0).max(1);
    let top = top + (top / 5).max(1);
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(40)
        .build_cartesian_2d((0..n).into_segmented(), 0i64..top)
        .map_err(err)?;
    let every = (n / 8).max(1);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
        .y_desc("Payments")
        .x_labels(n as usize)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if i % every == 0 => {
                buckets.get(*i as usize).map(|b| b.short.clone()).unwrap_or_default()
            }
            _ => String::new(),
        })
        .label_style((FONT, 13).into_font().color(&INK))
        .axis_desc_style((FONT, 13).into_font().color(&INK))
        .draw()
        .map_err(err)?;
    for (k, colour) in OUTCOME_COLOURS.iter().enumerate() {
        let bars = buckets.iter().enumerate().filter_map(move |(i, b)| {
            let base: i64 = b.counts[..k].iter().sum();
            let height = b.counts[k];
            (height > 0).then(|| {
                let i = i as u32;
                let mut bar = Rectangle::new(
                    [(SegmentValue::Exact(i), base), (SegmentValue::Exact(i + 1), base + height)],
                    colour.filled(),
                );
                bar.set_margin(0, 0, 2, 2);
                bar
            })
        });
        let colour = *colour;
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(labels[k])
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(0xcc, 0xcc, 0xcc))
        .label_font((FONT, 13).into_font().color(&INK))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Paid volume per gateway in one currency, as horizontal bars (one chart per currency: amounts
/// in different currencies don't share an axis).
pub fn volume_per_gateway(
    currency: &str,
    gateways: &[(&GatewayRow, f64)],
    title: &str,
) -> Result<String, ChartError> {
    let rows = gateways.len().max(1) as u32;
    let size = (760, 60 + 34 * rows);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let top = gateways.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0) * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(150)
            .build_cartesian_2d(0f64..top, (0..rows).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(RGBColor(0xee, 0xee, 0xee))
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .x_desc(format!("Paid ({currency})"))
            .x_labels(6)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_labels(rows as usize)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => {
                    gateways.get(*i as usize).map(|(g, _)| g.gateway.clone()).unwrap_or_default()
                }
                _ => String::new(),
            })
            .label_style((FONT, 13).into_font().color(&INK))
            .axis_desc_style((FONT, 13).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(gateways.iter().enumerate().map(|(i, (_, value))| {
                let i = i as u32;
                let mut bar = Rectangle::new(
                    [(0.0, SegmentValue::Exact(i)), (*value, SegmentValue::Exact(i + 1))],
                    OUTCOME_COLOURS[0].filled(),
                );
                bar.set_margin(4, 4, 0, 0);
                bar
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(accessible(svg, &format!("chart-volume-{}", currency.to_lowercase()), title, size))
}
