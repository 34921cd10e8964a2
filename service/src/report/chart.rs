//! `Chart`, the minimal SVG line chart every summary and points chart of the report is drawn
//! with: fixed-size axes, four ticks a side, lines, dots and a small legend. Fixed sizes keep the
//! page's charts the same size side by side; the SVG scales down with the page (CSS max-width).

use std::fmt::Write as _;

const W: f64 = 420.0;
const H: f64 = 300.0;
const PAD: f64 = 40.0;

/// A minimal line/bar chart on fixed axes, written as SVG.
pub(super) struct Chart {
    svg: String,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Chart {
    pub(super) fn new(
        title: &str,
        x: (f64, f64),
        y: (f64, f64),
        xlabel: &str,
        ylabel: &str,
    ) -> Chart {
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{title}"><rect width="100%" height="100%" fill="#fff"/><text x="{}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{title}</text>"##,
            W / 2.0
        );
        let mut c = Chart {
            svg,
            x0: x.0,
            x1: x.1,
            y0: y.0,
            y1: y.1,
        };
        c.axes(xlabel, ylabel);
        c
    }

    fn px(&self, x: f64) -> f64 {
        PAD + (x - self.x0) / (self.x1 - self.x0) * (W - 2.0 * PAD)
    }

    fn py(&self, y: f64) -> f64 {
        H - PAD - (y - self.y0) / (self.y1 - self.y0) * (H - 2.0 * PAD)
    }

    fn axes(&mut self, xlabel: &str, ylabel: &str) {
        let (l, r, t, b) = (PAD, W - PAD, PAD, H - PAD);
        let _ = write!(
            self.svg,
            r##"<path d="M{l} {t}V{b}H{r}" stroke="#333" fill="none"/><text x="{}" y="{}" text-anchor="middle" font-size="11">{xlabel}</text><text x="12" y="{}" text-anchor="middle" font-size="11" transform="rotate(-90 12 {})">{ylabel}</text>"##,
            (l + r) / 2.0,
            H - 8.0,
            (t + b) / 2.0,
            (t + b) / 2.0
        );
        for k in 0..=4 {
            let fx = self.x0 + (self.x1 - self.x0) * f64::from(k) / 4.0;
            let fy = self.y0 + (self.y1 - self.y0) * f64::from(k) / 4.0;
            let _ = write!(
                self.svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="9">{}</text>"##,
                self.px(fx),
                b + 12.0,
                tick(fx),
                l - 3.0,
                self.py(fy) + 3.0,
                tick(fy)
            );
        }
    }

    pub(super) fn line(&mut self, pts: &[(f64, f64)], color: &str, label: Option<(&str, usize)>) {
        if pts.is_empty() {
            return;
        }
        let mut d = String::new();
        for (i, (x, y)) in pts.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if i == 0 { "M" } else { "L" },
                self.px(*x),
                self.py(*y)
            );
        }
        let _ = write!(
            self.svg,
            r##"<path d="{d}" stroke="{color}" stroke-width="1.6" fill="none"/>"##
        );
        if let Some((text, row)) = label {
            let y = PAD + 14.0 * row as f64;
            let _ = write!(
                self.svg,
                r##"<rect x="{}" y="{}" width="10" height="3" fill="{color}"/><text x="{}" y="{}" font-size="10">{text}</text>"##,
                W - PAD - 120.0,
                y - 3.0,
                W - PAD - 106.0,
                y
            );
        }
    }

    pub(super) fn dots(&mut self, pts: &[(f64, f64)], color: &str) {
        for (x, y) in pts {
            let _ = write!(
                self.svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"##,
                self.px(*x),
                self.py(*y)
            );
        }
    }

    pub(super) fn finish(mut self) -> String {
        self.svg.push_str("</svg>");
        self.svg
    }
}

fn tick(v: f64) -> String {
    if v.abs() >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Thins a curve to at most `n` points (keeps the ends).
pub(super) fn thin<T: Copy>(v: &[T], n: usize) -> Vec<T> {
    if v.len() <= n {
        return v.to_vec();
    }
    let step = v.len() as f64 / n as f64;
    let mut out: Vec<T> = (0..n).map(|i| v[(i as f64 * step) as usize]).collect();
    if let Some(last) = v.last() {
        out.push(*last);
    }
    out
}
