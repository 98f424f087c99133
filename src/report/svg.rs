//! SVG charts for the HTML report, written as text: horizontal bars, a heat map, stacked areas over
//! time and percentile ranges on a log scale. Each chart is a small template filled with numbers
//! svcscope computed and names escaped with [`html_text`]/[`html_attr`]; no script, no external
//! reference (fonts are the page's), so a page that holds them opens offline.

use std::fmt::Write as _;

use super::escape::{html_attr, html_text};
use super::table::bytes;

/// Series colours (Okabe–Ito, readable by most colour-blind readers), then greys.
pub const PALETTE: [&str; 9] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#7f7f7f",
    "#404040",
];

/// One bar: a label, a value, a class (colour from the page's style sheet) and a link target.
pub struct Bar {
    pub label: String,
    pub value: u64,
    /// "evidence", "port" or "undetermined".
    pub class: &'static str,
    /// An id on the page (without `#`), or empty.
    pub href: String,
    pub note: String,
}

const LABEL_W: f64 = 250.0;
const BAR_H: f64 = 18.0;

fn clip(text: &str, max: usize) -> String {
    super::table::clip(text, max)
}

/// Horizontal bars, longest first as given, with the value printed after each bar.
pub fn bars(title: &str, rows: &[Bar]) -> String {
    let width = 760.0;
    let plot = width - LABEL_W - 90.0;
    let height = 24.0 + rows.len() as f64 * (BAR_H + 4.0);
    let max = rows.iter().map(|r| r.value).max().unwrap_or(0).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        html_text(title)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 10.0 + i as f64 * (BAR_H + 4.0);
        let w = (r.value as f64 / max * plot).max(1.0);
        let open = if r.href.is_empty() {
            "<g>".to_string()
        } else {
            format!(r##"<a href="#{}">"##, html_attr(&r.href))
        };
        let close = if r.href.is_empty() { "</g>" } else { "</a>" };
        let _ = write!(
            s,
            r#"{open}<text x="{lx}" y="{ty}" text-anchor="end" class="lbl">{label}</text><rect class="bar {class}" x="{LABEL_W}" y="{y}" width="{w:.1}" height="{BAR_H}"><title>{tip}</title></rect><text x="{vx:.1}" y="{ty}" class="val">{val}</text>{close}"#,
            lx = LABEL_W - 6.0,
            ty = y + 13.0,
            label = html_text(&clip(&r.label, 34)),
            class = r.class,
            tip = html_text(&format!("{}: {} ({})", r.label, bytes(r.value), r.note)),
            vx = LABEL_W + w + 4.0,
            val = html_text(&bytes(r.value)),
        );
    }
    s.push_str("</svg>");
    s
}

/// A heat map: `rows` × `cols`, each cell's colour from log(bytes); empty cells are left blank.
/// `cells[r][c]` is in bytes; `row_href`/`col_href` are page ids (empty for none).
pub fn heatmap(
    title: &str,
    rows: &[(String, String)],
    cols: &[(String, String)],
    cells: &[Vec<u64>],
    hue: u16,
) -> String {
    let cell = 18.0;
    let left = 230.0;
    let top = 150.0;
    // Room on the right for the last column's slanted label.
    let width = left + cols.len() as f64 * cell + 140.0;
    let height = top + rows.len() as f64 * cell + 10.0;
    let max = cells.iter().flatten().copied().max().unwrap_or(0).max(2) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart heat" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        html_text(title)
    );
    for (c, (name, href)) in cols.iter().enumerate() {
        let x = left + c as f64 * cell + cell / 2.0 + 4.0;
        let _ = write!(
            s,
            r##"<a href="#{}"><text transform="translate({x:.1},{y}) rotate(-60)" class="lbl">{}</text></a>"##,
            html_attr(href),
            html_text(&clip(name, 26)),
            y = top - 4.0,
        );
    }
    for (r, (name, href)) in rows.iter().enumerate() {
        let y = top + r as f64 * cell;
        let _ = write!(
            s,
            r##"<a href="#{}"><text x="{x}" y="{ty:.1}" text-anchor="end" class="lbl">{}</text></a>"##,
            html_attr(href),
            html_text(&clip(name, 36)),
            x = left - 6.0,
            ty = y + 13.0,
        );
        for (c, &v) in cells
            .get(r)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            if v == 0 {
                continue;
            }
            // Lightness from 90% (1 byte) to 30% (the most bytes), on a log scale.
            let f = (v as f64).ln() / max.ln();
            let light = 90.0 - 60.0 * f.clamp(0.0, 1.0);
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w}" height="{w}" fill="hsl({hue},70%,{light:.0}%)"><title>{tip}</title></rect>"#,
                x = left + c as f64 * cell,
                w = cell - 2.0,
                tip = html_text(&format!(
                    "{} — {}: {}",
                    name,
                    cols.get(c).map(|c| c.0.as_str()).unwrap_or(""),
                    bytes(v)
                )),
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Stacked areas of bytes per bucket, one per series (name, values), with a time axis labelled
/// from `start_label` (minutes after the start for each tick).
pub fn stacked(
    title: &str,
    series: &[(String, Vec<u64>)],
    bucket_seconds: u64,
    start_label: &str,
) -> String {
    let (width, height) = (760.0, 260.0);
    let (left, right, top, bottom) = (90.0, 190.0, 10.0, 40.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let n = series.iter().map(|s| s.1.len()).max().unwrap_or(0);
    let mut totals = vec![0u64; n];
    for (_, v) in series {
        for (i, x) in v.iter().enumerate() {
            totals[i] = totals[i].saturating_add(*x);
        }
    }
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if n > 1 {
        plot_w / (n - 1) as f64
    } else {
        plot_w
    };
    let x_of = |i: usize| left + if n > 1 { i as f64 * step } else { plot_w / 2.0 };
    let y_of = |v: u64| top + plot_h - v as f64 / max * plot_h;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        html_text(title)
    );
    // Axes, and the greatest total per bucket on the y axis.
    let _ = write!(
        s,
        r#"<path class="axis" d="M{left} {top}V{b}H{r}"/><text x="{tx}" y="{ty}" text-anchor="end" class="val">{maxl}</text><text x="{tx}" y="{b}" text-anchor="end" class="val">0</text>"#,
        b = top + plot_h,
        r = left + plot_w,
        tx = left - 4.0,
        ty = top + 10.0,
        maxl = html_text(&format!("{}/bucket", bytes(max as u64))),
    );
    let ticks = 5.min(n.max(1));
    for t in 0..ticks {
        let i = if ticks > 1 {
            t * (n - 1) / (ticks - 1)
        } else {
            0
        };
        let label = elapsed(i as u64 * bucket_seconds);
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{y}" text-anchor="middle" class="val">+{label}</text>"#,
            x = x_of(i),
            y = top + plot_h + 14.0,
        );
    }
    let _ = write!(
        s,
        r#"<text x="{x}" y="{y}" class="val">{}</text>"#,
        html_text(&format!("from {start_label}, {} s buckets", bucket_seconds)),
        x = left,
        y = top + plot_h + 32.0,
    );
    let mut base = vec![0u64; n];
    for (k, (name, values)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let mut top_line = Vec::with_capacity(n);
        let mut d = String::new();
        for (i, b) in base.iter_mut().enumerate() {
            let v = values.get(i).copied().unwrap_or(0);
            *b = b.saturating_add(v);
            top_line.push((x_of(i), y_of(*b)));
        }
        // The area between this series' top and the previous series' top (the new base minus it).
        for (i, (x, y)) in top_line.iter().enumerate() {
            let _ = write!(d, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { "L" });
        }
        for i in (0..n).rev() {
            let v = values.get(i).copied().unwrap_or(0);
            let _ = write!(d, "L{:.1} {:.1}", x_of(i), y_of(base[i].saturating_sub(v)));
        }
        if n == 1 {
            // One bucket: a bar rather than a line of no width.
            let (x, y) = top_line[0];
            let v = values.first().copied().unwrap_or(0);
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{y:.1}" width="40" height="{:.1}" fill="{color}"><title>{}</title></rect>"#,
                x - 20.0,
                y_of(base[0].saturating_sub(v)) - y,
                html_text(name)
            );
        } else {
            d.push('Z');
            let _ = write!(
                s,
                r#"<path d="{d}" fill="{color}" fill-opacity="0.85"><title>{}</title></path>"#,
                html_text(&format!("{name}: {}", bytes(values.iter().sum())))
            );
        }
        let ly = top + 6.0 + k as f64 * 16.0;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{ly}" width="10" height="10" fill="{color}"/><text x="{tx}" y="{ty}" class="lbl">{}</text>"#,
            html_text(&clip(name, 24)),
            x = left + plot_w + 10.0,
            tx = left + plot_w + 24.0,
            ty = ly + 9.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// Time since the start for an axis tick: "12 min", "5.5 h", "3.2 d".
fn elapsed(seconds: u64) -> String {
    let mins = seconds / 60;
    if mins < 120 {
        format!("{mins} min")
    } else if mins < 48 * 60 {
        format!("{:.1} h", mins as f64 / 60.0)
    } else {
        format!("{:.1} d", mins as f64 / 1440.0)
    }
}

/// One row of a distribution chart: min, p50, p90, p99 and max of some quantity.
pub struct Range {
    pub label: String,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

/// Percentile ranges on a log scale: a line from min to max, a box from p50 to p90, a tick at p99.
pub fn ranges(title: &str, rows: &[Range], unit: fn(u64) -> String) -> String {
    let width = 760.0;
    let plot = width - LABEL_W - 30.0;
    let height = 40.0 + rows.len() as f64 * (BAR_H + 4.0);
    let lo = rows.iter().map(|r| r.min).min().unwrap_or(1).max(1) as f64;
    let hi = (rows.iter().map(|r| r.max).max().unwrap_or(1) as f64).max(lo * 10.0);
    let x = |v: u64| {
        let v = (v.max(1) as f64).clamp(lo, hi);
        LABEL_W + (v.ln() - lo.ln()) / (hi.ln() - lo.ln()) * plot
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        html_text(title)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 10.0 + i as f64 * (BAR_H + 4.0);
        let mid = y + BAR_H / 2.0;
        let _ = write!(
            s,
            r#"<g><title>{tip}</title><text x="{lx}" y="{ty}" text-anchor="end" class="lbl">{label}</text><path class="axis" d="M{a:.1} {mid}H{b:.1}"/><rect class="bar evidence" x="{p50:.1}" y="{y1}" width="{w:.1}" height="{h}"/><path class="p99" d="M{p99:.1} {y}v{BAR_H}"/></g>"#,
            tip = html_text(&format!(
                "{}: min {}, p50 {}, p90 {}, p99 {}, max {}",
                r.label,
                unit(r.min),
                unit(r.p50),
                unit(r.p90),
                unit(r.p99),
                unit(r.max)
            )),
            lx = LABEL_W - 6.0,
            ty = y + 13.0,
            label = html_text(&clip(&r.label, 34)),
            a = x(r.min),
            b = x(r.max),
            p50 = x(r.p50),
            y1 = y + 3.0,
            w = (x(r.p90) - x(r.p50)).max(2.0),
            h = BAR_H - 6.0,
            p99 = x(r.p99),
        );
    }
    // The scale: powers of ten between lo and hi.
    let axis_y = 14.0 + rows.len() as f64 * (BAR_H + 4.0);
    let mut p = 10f64.powf(lo.log10().floor());
    while p <= hi {
        if p >= lo {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{axis_y}" text-anchor="middle" class="val">{}</text>"#,
                x(p as u64),
                html_text(&unit(p as u64))
            );
        }
        p *= 10.0;
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_in_every_chart() {
        let evil = "</svg><script>alert(1)</script>\"'";
        let b = bars(
            evil,
            &[Bar {
                label: evil.into(),
                value: 10,
                class: "port",
                href: evil.into(),
                note: evil.into(),
            }],
        );
        let h = heatmap(
            evil,
            &[(evil.into(), evil.into())],
            &[(evil.into(), evil.into())],
            &[vec![5]],
            210,
        );
        let st = stacked(evil, &[(evil.into(), vec![1, 2, 3])], 60, evil);
        let r = ranges(
            evil,
            &[Range {
                label: evil.into(),
                min: 1,
                p50: 2,
                p90: 3,
                p99: 4,
                max: 5,
            }],
            |v| v.to_string(),
        );
        for svg in [b, h, st, r] {
            assert!(!svg.contains("<script"), "{svg}");
            assert_eq!(svg.matches("</svg>").count(), 1, "{svg}");
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        }
    }

    #[test]
    fn time_ticks_read_in_minutes_hours_or_days() {
        assert_eq!(elapsed(0), "0 min");
        assert_eq!(elapsed(119 * 60), "119 min");
        assert_eq!(elapsed(330 * 60), "5.5 h");
        assert_eq!(elapsed(3 * 86_400), "3.0 d");
    }

    #[test]
    fn stacked_areas_handle_one_bucket_and_empty_series() {
        let one = stacked("t", &[("a".into(), vec![5])], 60, "x");
        assert!(one.contains("<rect"), "{one}");
        let none = stacked("t", &[], 60, "x");
        assert!(none.ends_with("</svg>"));
    }
}
