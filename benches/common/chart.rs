//! The comparison as an SVG bar chart: one panel per table row, one bar per implementation,
//! greenshim's first and highlighted, each bar labelled with its value and its ratio against
//! the baseline (tokio current-thread), as in the markdown table. Written by hand: a few dozen
//! `<rect>` and `<text>` elements need no plotting library.

/// One row of the table: label, unit, whether higher is better, one median per implementation.
pub struct ChartRow<'a> {
    pub label: &'a str,
    pub unit: &'a str,
    pub higher_is_better: bool,
    pub values: Vec<Option<f64>>,
}

const WIDTH: f64 = 900.0;
const LABEL_W: f64 = 150.0;
const BAR_H: f64 = 16.0;
const GAP: f64 = 4.0;
const PANEL_PAD: f64 = 28.0;

/// Escapes text for an SVG text node or attribute.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart: `impls` names the bars, `base` is the baseline's index (ratios are printed when
/// it has a value), `title` heads it.
pub fn svg(title: &str, impls: &[String], base: Option<usize>, rows: &[ChartRow<'_>]) -> String {
    let panel_h = PANEL_PAD + impls.len() as f64 * (BAR_H + GAP) + 8.0;
    let height = 40.0 + rows.len() as f64 * panel_h;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
        esc(title)
    );
    let bar_max = WIDTH - LABEL_W - 220.0;
    for (ri, row) in rows.iter().enumerate() {
        let top = 40.0 + ri as f64 * panel_h;
        let better = if row.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        out += &format!(
            "<text x=\"10\" y=\"{:.1}\" font-weight=\"bold\">{} ({}, {better})</text>\n",
            top + 18.0,
            esc(row.label),
            esc(row.unit)
        );
        let max = row.values.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
        let base_v = base.and_then(|b| row.values.get(b).copied().flatten());
        for (ii, name) in impls.iter().enumerate() {
            let y = top + PANEL_PAD + ii as f64 * (BAR_H + GAP);
            out += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
                LABEL_W - 6.0,
                y + BAR_H - 4.0,
                esc(name)
            );
            let Some(v) = row.values.get(ii).copied().flatten() else {
                out += &format!(
                    "<text x=\"{LABEL_W}\" y=\"{:.1}\" fill=\"#888\">not measured</text>\n",
                    y + BAR_H - 4.0
                );
                continue;
            };
            let w = if max > 0.0 {
                (v / max * bar_max).max(1.0)
            } else {
                1.0
            };
            let fill = if name.starts_with("greenshim") {
                "#2a7a3b"
            } else {
                "#8aa0b8"
            };
            out += &format!(
                "<rect x=\"{LABEL_W}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{BAR_H}\" \
                 fill=\"{fill}\"/>\n"
            );
            let ratio = match base_v {
                Some(b) if v > 0.0 && b > 0.0 => {
                    let r = if row.higher_is_better { v / b } else { b / v };
                    format!(" (×{r:.2})")
                }
                _ => String::new(),
            };
            out += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\">{}{ratio}</text>\n",
                LABEL_W + w + 6.0,
                y + BAR_H - 4.0,
                format_value(v)
            );
        }
    }
    out += "</svg>\n";
    out
}

fn format_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
