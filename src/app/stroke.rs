//! One stroke of ink: its points, its nominal width and, where the input device reports it
//! (a pen on a tablet or a pressure-sensitive screen), the pressure at every point, which
//! makes the line thicker where the writer pressed harder, as a real pen does. A mouse
//! gives no pressure and draws an even line.

use eframe::egui;

use egui::{Color32, Pos2};
use image::{Rgb, RgbImage};

/// How much pressure changes the width: a light touch draws at `LIGHTEST` of the nominal
/// width, a firm one at `LIGHTEST + SPREAD`; half pressure draws the nominal width.
const LIGHTEST: f32 = 0.35;
const SPREAD: f32 = 1.3;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stroke {
    pub points: Vec<Pos2>,
    pub width: f32,
    /// Pressure in 0..=1 for every point, or empty when the input gave none.
    pub pressures: Vec<f32>,
}

impl Stroke {
    /// A stroke of even width (mouse input).
    pub fn new(points: Vec<Pos2>, width: f32) -> Stroke {
        Stroke {
            points,
            width,
            pressures: Vec::new(),
        }
    }

    /// Adds a point with the pressure at it, if known. A stroke keeps pressure for all of
    /// its points or for none: a sample without pressure in a pressure stroke repeats the
    /// last one, and pressure that starts mid-stroke is ignored.
    pub fn push(&mut self, point: Pos2, pressure: Option<f32>) {
        let had_pressure = !self.pressures.is_empty();
        let starting = self.points.is_empty();
        self.points.push(point);
        match pressure {
            Some(p) if starting || had_pressure => self.pressures.push(p.clamp(0.0, 1.0)),
            _ if had_pressure => self.pressures.push(*self.pressures.last().unwrap_or(&0.5)),
            _ => {}
        }
    }

    /// The width at point `i`: the nominal width scaled by the pressure there.
    pub fn width_at(&self, i: usize) -> f32 {
        match self.pressures.get(i) {
            Some(p) => self.width * (LIGHTEST + SPREAD * p),
            None => self.width,
        }
    }

    /// The widest the stroke gets (for hit tests and bounds).
    pub fn max_width(&self) -> f32 {
        (0..self.points.len().max(1))
            .map(|i| self.width_at(i))
            .fold(0.0, f32::max)
    }
}

/// Paints a stroke on screen with round caps and joins, following its pressure.
pub fn paint_stroke(
    painter: &egui::Painter,
    stroke: &Stroke,
    scale: f32,
    to_screen: &dyn Fn(Pos2) -> Pos2,
    ink: Color32,
) {
    let width = |i: usize| (stroke.width_at(i) * scale).max(1.0);
    let screen: Vec<Pos2> = stroke.points.iter().map(|p| to_screen(*p)).collect();
    if stroke.pressures.is_empty() && screen.len() > 1 {
        // Even width: one path, which tessellates more smoothly than separate segments.
        painter.add(egui::Shape::line(
            screen.clone(),
            egui::Stroke::new(width(0), ink),
        ));
    } else {
        for (i, w) in screen.windows(2).enumerate() {
            let segment = (width(i) + width(i + 1)) / 2.0;
            painter.line_segment([w[0], w[1]], egui::Stroke::new(segment, ink));
        }
    }
    // egui draws butt ends, so a disc at every point rounds the caps and joins.
    for (i, p) in screen.iter().enumerate() {
        painter.circle_filled(*p, width(i) / 2.0, ink);
    }
}

/// Draws a stroke into the raster by stamping discs close enough together to leave no
/// gaps, their radius following the pressure but never below `min_radius` (the models read
/// bold strokes best). `to_raster` maps page points to raster pixels, `scale` page units.
pub fn stamp_stroke(
    image: &mut RgbImage,
    stroke: &Stroke,
    to_raster: impl Fn(Pos2) -> Pos2,
    scale: f32,
    min_radius: f32,
) {
    let radius = |i: usize| (stroke.width_at(i) * scale / 2.0).max(min_radius);
    let pts: Vec<Pos2> = stroke.points.iter().map(|p| to_raster(*p)).collect();
    if let [only] = pts.as_slice() {
        fill_disc(image, *only, radius(0));
    }
    for (i, w) in pts.windows(2).enumerate() {
        let (a, b, ra, rb) = (w[0], w[1], radius(i), radius(i + 1));
        let step = (ra.min(rb) / 2.0).max(0.5);
        let n = (a.distance(b) / step).ceil().max(1.0) as usize;
        for k in 0..=n {
            let t = k as f32 / n as f32;
            fill_disc(image, a + (b - a) * t, ra + (rb - ra) * t);
        }
    }
}

fn fill_disc(image: &mut RgbImage, c: Pos2, r: f32) {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let (x0, x1) = ((c.x - r).floor() as i64, (c.x + r).ceil() as i64);
    let (y0, y1) = ((c.y - r).floor() as i64, (c.y + r).ceil() as i64);
    for y in y0.max(0)..=y1.min(h - 1) {
        for x in x0.max(0)..=x1.min(w - 1) {
            let d = Pos2::new(x as f32 + 0.5, y as f32 + 0.5).distance(c);
            if d <= r {
                image.put_pixel(x as u32, y as u32, Rgb([24, 24, 24]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_is_kept_for_all_points_or_none() {
        let mut mouse = Stroke::new(Vec::new(), 4.0);
        mouse.push(Pos2::new(0.0, 0.0), None);
        mouse.push(Pos2::new(5.0, 0.0), Some(0.9));
        assert!(mouse.pressures.is_empty(), "pressure starting mid-stroke");
        assert_eq!(mouse.width_at(1), 4.0);

        let mut pen = Stroke::new(Vec::new(), 4.0);
        pen.push(Pos2::new(0.0, 0.0), Some(0.2));
        pen.push(Pos2::new(5.0, 0.0), None);
        pen.push(Pos2::new(9.0, 0.0), Some(1.7));
        assert_eq!(pen.pressures, vec![0.2, 0.2, 1.0]);
    }

    #[test]
    fn harder_pressure_draws_a_thicker_line() {
        let mut pen = Stroke::new(Vec::new(), 4.0);
        pen.push(Pos2::new(0.0, 0.0), Some(0.0));
        pen.push(Pos2::new(100.0, 0.0), Some(1.0));
        assert!((pen.width_at(0) - 4.0 * LIGHTEST).abs() < 1e-6);
        assert!((pen.width_at(1) - 4.0 * (LIGHTEST + SPREAD)).abs() < 1e-6);
        assert_eq!(pen.max_width(), pen.width_at(1));

        let mut image = RgbImage::from_pixel(120, 40, Rgb([255, 255, 255]));
        stamp_stroke(&mut image, &pen, |p| p + egui::vec2(10.0, 20.0), 3.0, 0.5);
        let thickness = |x: u32| {
            (0..40)
                .filter(|y| image.get_pixel(x, *y).0[0] < 128)
                .count()
        };
        assert!(
            thickness(100) > 2 * thickness(15),
            "light start {} px, firm end {} px",
            thickness(15),
            thickness(100)
        );
    }
}
