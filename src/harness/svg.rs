//! Hand-written SVG plots (no plotting dependency): cactus plots and log-log scatter plots.

use std::fmt::Write;

/// Line colors, one per configuration (cycled).
pub const PALETTE: [&str; 8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];

const W: f64 = 720.0;
const H: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 180.0;
const BOTTOM: f64 = 55.0;

/// Escape text for SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A log10 axis covering `[lo, hi]`, widened to whole decades.
struct LogAxis {
    lo: f64,
    hi: f64,
}

impl LogAxis {
    fn new(lo: f64, hi: f64) -> LogAxis {
        let lo_e = lo.max(1e-4).log10().floor();
        let hi_e = hi.max(1e-4).log10().ceil().max(lo_e + 1.0);
        LogAxis { lo: lo_e, hi: hi_e }
    }
    fn frac(&self, v: f64) -> f64 {
        ((v.max(1e-9).log10() - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }
    fn ticks(&self) -> Vec<(f64, String)> {
        (self.lo as i32..=self.hi as i32)
            .map(|e| {
                let v = 10f64.powi(e);
                let label = if e >= 0 { format!("{v}") } else { format!("{v:.*}", (-e) as usize) };
                (v, label)
            })
            .collect()
    }
}

fn header(out: &mut String, title: &str, alarms: &[String], height: f64) {
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height:.0}" viewBox="0 0 {W} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let mut y = 20.0;
    for a in alarms.iter().take(5) {
        let _ = writeln!(out, r#"<text x="10" y="{y}" fill="red" font-weight="bold">{}</text>"#, esc(a));
        y += 16.0;
    }
    if alarms.len() > 5 {
        let _ = writeln!(
            out,
            r#"<text x="10" y="{y}" fill="red" font-weight="bold">… and {} more soundness alarms</text>"#,
            alarms.len() - 5
        );
        y += 16.0;
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        y + 6.0,
        esc(title)
    );
}

fn top_margin(alarms: &[String]) -> f64 {
    40.0 + 16.0 * (alarms.len().min(5) + usize::from(alarms.len() > 5)) as f64
}

/// A cactus plot: for every configuration, the number of instances solved within time t,
/// against t (log scale). `series` holds each configuration's name and the wall times of its
/// solved runs; `limit` is the largest time limit.
pub fn cactus(title: &str, series: &[(String, Vec<f64>)], n_instances: usize, limit: f64, alarms: &[String]) -> String {
    let top = top_margin(alarms);
    let (pw, ph) = (W - LEFT - RIGHT, H - 40.0 - BOTTOM);
    let min_t = series.iter().flat_map(|s| s.1.iter().copied()).fold(f64::INFINITY, f64::min);
    let min_t = if min_t.is_finite() { min_t } else { 0.01 };
    let ax = LogAxis::new(min_t, limit.max(min_t * 10.0));
    let ymax = n_instances.max(1) as f64;
    let px = |t: f64| LEFT + ax.frac(t) * pw;
    let py = |k: f64| top + ph - k / ymax * ph;
    let mut s = String::new();
    header(&mut s, title, alarms, top + ph + BOTTOM);
    axes(&mut s, top, pw, ph);
    for (v, label) in ax.ticks() {
        let x = px(v);
        let _ = writeln!(s, r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/>"##, top + ph);
        let _ = writeln!(s, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#, top + ph + 16.0);
    }
    let step = nice_step(ymax);
    let mut k = 0.0;
    while k <= ymax + 1e-9 {
        let y = py(k);
        let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/>"##, LEFT + pw);
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{k}</text>"#, LEFT - 6.0, y + 4.0);
        k += step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">wall-clock time per instance (s, log scale)</text>"#,
        LEFT + pw / 2.0,
        top + ph + 38.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">instances solved</text>"#,
        top + ph / 2.0
    );
    for (i, (name, times)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut t: Vec<f64> = times.clone();
        t.sort_by(f64::total_cmp);
        let mut pts = format!("{:.1},{:.1}", px(t.first().copied().unwrap_or(min_t)), py(0.0));
        for (k, &ti) in t.iter().enumerate() {
            let _ = write!(pts, " {:.1},{:.1} {:.1},{:.1}", px(ti), py(k as f64), px(ti), py(k as f64 + 1.0));
        }
        let _ = write!(pts, " {:.1},{:.1}", px(limit), py(t.len() as f64));
        let _ = writeln!(s, r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>"#);
        legend(&mut s, i, top, pw, color, &format!("{name} ({})", t.len()));
    }
    s.push_str("</svg>\n");
    s
}

/// One point of a scatter plot.
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// `verified`, `falsified`, `unsolved` or `disagreement`.
    pub kind: &'static str,
    pub label: String,
}

/// A log-log scatter plot of configuration A's time (x) against B's (y) per instance; unsolved
/// runs sit on the dashed "unsolved" lines at the right and top.
pub fn scatter(title: &str, a: &str, b: &str, points: &[Point], limit: f64, alarms: &[String]) -> String {
    let top = top_margin(alarms);
    let side = (H - 40.0 - BOTTOM).min(W - LEFT - RIGHT);
    let min_t = points.iter().flat_map(|p| [p.x, p.y]).fold(f64::INFINITY, f64::min);
    let min_t = if min_t.is_finite() { min_t } else { 0.01 };
    let cap = limit * 2.0;
    let ax = LogAxis::new(min_t, cap);
    let px = |t: f64| LEFT + ax.frac(t) * side;
    let py = |t: f64| top + side - ax.frac(t) * side;
    let mut s = String::new();
    header(&mut s, title, alarms, top + side + BOTTOM);
    axes(&mut s, top, side, side);
    for (v, label) in ax.ticks() {
        let (x, y) = (px(v), py(v));
        let _ = writeln!(s, r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/>"##, top + side);
        let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/>"##, LEFT + side);
        let _ = writeln!(s, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#, top + side + 16.0);
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#, LEFT - 6.0, y + 4.0);
    }
    let _ = writeln!(
        s,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/>"##,
        px(10f64.powf(ax.lo)),
        py(10f64.powf(ax.lo)),
        px(10f64.powf(ax.hi)),
        py(10f64.powf(ax.hi))
    );
    let (ux, uy) = (px(limit), py(limit));
    let _ = writeln!(
        s,
        r##"<line x1="{ux:.1}" y1="{top}" x2="{ux:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4 3"/>"##,
        top + side
    );
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{uy:.1}" x2="{:.1}" y2="{uy:.1}" stroke="#999" stroke-dasharray="4 3"/>"##,
        LEFT + side
    );
    let _ = writeln!(s, r##"<text x="{:.1}" y="{:.1}" fill="#777">time limit</text>"##, ux + 3.0, top + 12.0);
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" fill="#777">unsolved runs: at twice the time limit</text>"##,
        LEFT + 4.0,
        top + side - 6.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{} — wall-clock time (s)</text>"#,
        LEFT + side / 2.0,
        top + side + 38.0,
        esc(a)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">{} — wall-clock time (s)</text>"#,
        top + side / 2.0,
        esc(b)
    );
    let kinds = [("verified", "#2ca02c"), ("falsified", "#1f77b4"), ("unsolved", "#999999"), ("disagreement", "red")];
    for p in points {
        let color = kinds.iter().find(|k| k.0 == p.kind).map_or("#000", |k| k.1);
        let r = if p.kind == "disagreement" { 6 } else { 3 };
        let _ = writeln!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="{r}" fill="{color}" fill-opacity="0.7"><title>{}</title></circle>"#,
            px(p.x.min(cap)),
            py(p.y.min(cap)),
            esc(&p.label)
        );
    }
    for (i, (k, color)) in kinds.iter().enumerate() {
        let n = points.iter().filter(|p| p.kind == *k).count();
        legend(&mut s, i, top, side, color, &format!("{k} ({n})"));
    }
    s.push_str("</svg>\n");
    s
}

fn axes(s: &mut String, top: f64, pw: f64, ph: f64) {
    let _ = writeln!(s, r#"<rect x="{LEFT}" y="{top}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="black"/>"#);
}

fn legend(s: &mut String, i: usize, top: f64, pw: f64, color: &str, text: &str) {
    let x = LEFT + pw + 15.0;
    let y = top + 10.0 + 20.0 * i as f64;
    let _ = writeln!(s, r#"<rect x="{x:.1}" y="{:.1}" width="14" height="4" fill="{color}"/>"#, y - 4.0);
    let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, x + 20.0, y + 2.0, esc(text));
}

fn nice_step(max: f64) -> f64 {
    let raw = (max / 8.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if raw <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_complete_svg_documents_even_when_empty() {
        let alarms = vec!["SOUNDNESS ALARM on a<b>".to_string()];
        for s in [
            cactus("t", &[("a".into(), vec![0.01, 0.5, 3.0]), ("b".into(), vec![])], 4, 10.0, &alarms),
            cactus("t", &[], 0, 1.0, &[]),
            scatter("t", "a", "b", &[Point { x: 0.1, y: 20.0, kind: "verified", label: "i".into() }], 10.0, &alarms),
            scatter("t", "a", "b", &[], 1.0, &[]),
        ] {
            assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
            assert!(!s.contains("NaN") && !s.contains("inf"), "{s}");
            assert_eq!(s.matches("<svg").count(), 1);
        }
        assert!(cactus("t", &[], 1, 1.0, &alarms).contains("a&lt;b&gt;"));
    }
}
