//! The sketchpad: strokes drawn with mouse, pen or touch, kept in page units so the
//! drawing does not depend on the window size, and rasterised for the models.

use eframe::egui;

use egui::{Color32, Pos2, Rect, Sense, Stroke as EguiStroke, Vec2};
use image::{Rgb, RgbImage};

pub use super::stroke::Stroke;
use super::stroke::{paint_stroke, stamp_stroke};

/// Width of the page in page units; the view scales it to the panel.
pub const PAGE_WIDTH: f32 = 1200.0;
/// Height the page starts with; it grows as the user writes further down.
pub const MIN_PAGE_HEIGHT: f32 = 360.0;
/// Room kept below the lowest ink, so there is always space to write the next line.
const GROW_MARGIN: f32 = 160.0;
/// White kept around the ink in the raster, as scanned lines have.
const RASTER_MARGIN: f32 = 24.0;
/// Letter height in the raster handed to the models, in pixels.
const RASTER_LETTER_HEIGHT: f32 = 40.0;
/// How much of each new pointer sample moves the pen (lower is smoother).
const SMOOTHING: f32 = 0.55;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Pen,
    Eraser,
}

/// The sketch raster and where it lies on the page, to map regions back onto the drawing.
pub struct Raster {
    pub image: RgbImage,
    /// Page position of the raster's top-left pixel.
    pub origin: Pos2,
    /// Raster pixels per page unit.
    pub scale: f32,
}

impl Raster {
    pub fn to_page(&self, p: [f32; 2]) -> Pos2 {
        Pos2::new(
            self.origin.x + p[0] / self.scale,
            self.origin.y + p[1] / self.scale,
        )
    }
}

/// What happened in one frame, for the app to act on.
#[derive(Default)]
pub struct SketchEvents {
    /// The drawing changed (stroke ended, erased, undo, clear).
    pub changed: bool,
}

pub struct Sketchpad {
    pub strokes: Vec<Stroke>,
    current: Option<Stroke>,
    undo: Vec<Vec<Stroke>>,
    redo: Vec<Vec<Stroke>>,
    pub tool: Tool,
    pub pen_width: f32,
    /// Screen rectangle of the page last frame (tests aim their pointer at it).
    pub last_rect: Option<Rect>,
    /// Changes since the last recognition, for "live after a pause".
    pub dirty_since: Option<f64>,
    erasing: bool,
    /// The pen pressure last reported (touch and pen input only), for the next point.
    pressure: Option<f32>,
}

impl Default for Sketchpad {
    fn default() -> Self {
        Self {
            strokes: Vec::new(),
            current: None,
            undo: Vec::new(),
            redo: Vec::new(),
            tool: Tool::Pen,
            pen_width: 4.0,
            last_rect: None,
            dirty_since: None,
            erasing: false,
            pressure: None,
        }
    }
}

impl Sketchpad {
    pub fn is_empty(&self) -> bool {
        self.strokes.is_empty()
    }

    pub fn is_drawing(&self) -> bool {
        self.current.is_some() || self.erasing
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Page height: grows with the ink, never below the starting height.
    pub fn page_height(&self) -> f32 {
        let lowest = self
            .strokes
            .iter()
            .chain(&self.current)
            .flat_map(|s| s.points.iter().map(|p| p.y))
            .fold(0.0_f32, f32::max);
        (lowest + GROW_MARGIN).max(MIN_PAGE_HEIGHT)
    }

    fn remember(&mut self) {
        self.undo.push(self.strokes.clone());
        self.redo.clear();
    }

    pub fn undo(&mut self) -> bool {
        let Some(previous) = self.undo.pop() else {
            return false;
        };
        self.redo
            .push(std::mem::replace(&mut self.strokes, previous));
        true
    }

    pub fn redo(&mut self) -> bool {
        let Some(next) = self.redo.pop() else {
            return false;
        };
        self.undo.push(std::mem::replace(&mut self.strokes, next));
        true
    }

    pub fn clear(&mut self) -> bool {
        if self.strokes.is_empty() {
            return false;
        }
        self.remember();
        self.strokes.clear();
        true
    }

    /// Adds a finished stroke (used by input handling and by tests).
    pub fn push_stroke(&mut self, stroke: Stroke) {
        if stroke.points.is_empty() {
            return;
        }
        self.remember();
        self.strokes.push(stroke);
    }

    fn begin_stroke(&mut self, at: Pos2) {
        let mut stroke = Stroke::new(Vec::new(), self.pen_width);
        stroke.push(at, self.pressure);
        self.current = Some(stroke);
    }

    fn extend_stroke(&mut self, raw: Pos2) {
        let Some(stroke) = self.current.as_mut() else {
            return;
        };
        let Some(&last) = stroke.points.last() else {
            return;
        };
        // Exponential smoothing takes the jitter out of mouse and touch samples.
        let smoothed = last + (raw - last) * SMOOTHING;
        if smoothed.distance(last) >= 0.75 {
            stroke.push(smoothed, self.pressure);
        }
    }

    fn end_stroke(&mut self, last_raw: Option<Pos2>) -> bool {
        let Some(mut stroke) = self.current.take() else {
            return false;
        };
        if let Some(p) = last_raw
            && stroke.points.last().is_some_and(|l| l.distance(p) > 0.5)
        {
            stroke.push(p, self.pressure);
        }
        self.pressure = None;
        self.push_stroke(stroke);
        true
    }

    /// Builds strokes from this frame's raw pointer events rather than from the pointer's
    /// position once per frame: a slow frame (software rendering, a busy CPU) must not cut
    /// corners off the writing or lose a short stroke whose press and release share a frame.
    /// Returns true when a stroke (or a tap's dot) was finished. A pen or touch screen that
    /// reports force sends it as a touch event just before the pointer event it belongs to.
    fn follow_pen(
        &mut self,
        events: &[egui::Event],
        on_page: impl Fn(Pos2) -> bool,
        to_page: impl Fn(Pos2) -> Pos2,
    ) -> bool {
        let mut finished = false;
        for event in events {
            match event {
                egui::Event::Touch {
                    force: Some(force), ..
                } => self.pressure = Some(*force),
                egui::Event::PointerButton {
                    pos,
                    button: egui::PointerButton::Primary,
                    pressed: true,
                    ..
                } if on_page(*pos) => self.begin_stroke(to_page(*pos)),
                egui::Event::PointerMoved(pos) if self.current.is_some() => {
                    self.extend_stroke(to_page(*pos));
                }
                egui::Event::PointerButton {
                    pos,
                    button: egui::PointerButton::Primary,
                    pressed: false,
                    ..
                } => finished |= self.end_stroke(Some(to_page(*pos))),
                egui::Event::PointerGone => finished |= self.end_stroke(None),
                _ => {}
            }
        }
        finished
    }

    /// Removes every stroke that passes within `radius` of `at`.
    fn erase_at(&mut self, at: Pos2, radius: f32) -> bool {
        let before = self.strokes.len();
        self.strokes
            .retain(|s| !stroke_hits(s, at, radius + s.max_width() / 2.0));
        before != self.strokes.len()
    }

    /// Draws the page and handles pointer input. `overlay` paints on top (recognized regions).
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        now: f64,
        overlay: impl FnOnce(&egui::Painter, &dyn Fn(Pos2) -> Pos2),
    ) -> SketchEvents {
        let mut events = SketchEvents::default();
        let width = ui.available_width().max(100.0);
        let scale = width / PAGE_WIDTH;
        // The page fills the panel at least, and grows past it (scrolling) as the ink goes down.
        let height = (self.page_height() * scale).max(ui.available_height());
        let size = Vec2::new(width, height);
        let (response, painter) = ui.allocate_painter(size, Sense::click_and_drag());
        let rect = response.rect;
        self.last_rect = Some(rect);
        let to_screen = move |p: Pos2| rect.min + p.to_vec2() * scale;
        let to_page = move |p: Pos2| Pos2::ZERO + (p - rect.min) / scale;

        let pointer = response.interact_pointer_pos().map(to_page);
        match self.tool {
            Tool::Pen => {
                let on_page =
                    |p: Pos2| rect.contains(p) && ui.ctx().layer_id_at(p) == Some(ui.layer_id());
                let events_in = ui.input(|i| i.events.clone());
                events.changed |= self.follow_pen(&events_in, on_page, to_page);
            }
            Tool::Eraser => {
                let radius = self.pen_width * 2.0 + 6.0;
                if (response.drag_started() || response.clicked()) && !self.erasing {
                    self.remember();
                    self.erasing = true;
                }
                if let Some(p) = pointer
                    && self.erasing
                {
                    events.changed |= self.erase_at(p, radius);
                }
                if response.drag_stopped() || response.clicked() {
                    self.erasing = false;
                }
            }
        }
        if events.changed {
            self.dirty_since = Some(now);
        }

        paint_page(&painter, rect, scale);
        // The page stays paper-white in dark mode too, so the ink is always dark.
        let ink = Color32::from_gray(25);
        for stroke in self.strokes.iter().chain(&self.current) {
            paint_stroke(&painter, stroke, scale, &to_screen, ink);
        }
        if self.tool == Tool::Eraser
            && let Some(hover) = response.hover_pos()
        {
            let r = (self.pen_width * 2.0 + 6.0) * scale;
            painter.circle_stroke(hover, r, EguiStroke::new(1.0, Color32::from_gray(120)));
        }
        overlay(&painter, &to_screen);
        if self.strokes.is_empty() && self.current.is_none() {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "Write here with the mouse, a pen or a finger",
                egui::FontId::proportional(18.0),
                Color32::from_gray(150),
            );
        }
        events
    }

    /// The ink as dark strokes on white, cropped to the writing with a margin, scaled so
    /// letters are about [`RASTER_LETTER_HEIGHT`] pixels tall (the size of printed text in a
    /// scan, which detectors and recognizers read best) and strokes at least as bold as print.
    pub fn rasterize(&self) -> Option<Raster> {
        let points = self
            .strokes
            .iter()
            .flat_map(|s| s.points.iter().map(move |p| (p, s.max_width())));
        let mut bounds = Rect::NOTHING;
        for (p, w) in points {
            bounds = bounds.union(Rect::from_center_size(*p, Vec2::splat(w)));
        }
        if !bounds.is_positive() {
            return None;
        }
        let scale = self
            .letter_height()
            .map_or(1.0, |h| (RASTER_LETTER_HEIGHT / h).clamp(0.1, 2.0));
        let bounds = bounds.expand(RASTER_MARGIN / scale);
        let min_radius = RASTER_LETTER_HEIGHT * 0.06;
        let w = (bounds.width() * scale).ceil().clamp(8.0, 8192.0) as u32;
        let h = (bounds.height() * scale).ceil().clamp(8.0, 8192.0) as u32;
        let mut image = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
        let to_raster = |p: Pos2| Pos2::ZERO + (p - bounds.min) * scale;
        for stroke in &self.strokes {
            stamp_stroke(&mut image, stroke, to_raster, scale, min_radius);
        }
        Some(Raster {
            image,
            origin: bounds.min,
            scale,
        })
    }
}

impl Sketchpad {
    /// The typical height of the letters drawn: the median height of the strokes, leaving
    /// out flat ones (bars, dots) that say nothing about size. `None` when all are flat.
    pub fn letter_height(&self) -> Option<f32> {
        let mut heights: Vec<f32> = self
            .strokes
            .iter()
            .map(|s| {
                let (top, bottom) = s
                    .points
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(t, b), p| (t.min(p.y), b.max(p.y)));
                bottom - top
            })
            .collect();
        let tallest = heights.iter().copied().fold(0.0, f32::max);
        heights.retain(|h| *h >= tallest * 0.25 && *h > 4.0);
        heights.sort_by(f32::total_cmp);
        heights.get(heights.len() / 2).copied()
    }
}

fn stroke_hits(stroke: &Stroke, at: Pos2, radius: f32) -> bool {
    match stroke.points.as_slice() {
        [only] => only.distance(at) <= radius,
        pts => pts
            .windows(2)
            .any(|w| distance_to_segment(at, w[0], w[1]) <= radius),
    }
}

fn distance_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let len2 = ab.length_sq();
    if len2 <= f32::EPSILON {
        return p.distance(a);
    }
    let t = ((p - a).dot(ab) / len2).clamp(0.0, 1.0);
    p.distance(a + ab * t)
}

fn paint_page(painter: &egui::Painter, rect: Rect, scale: f32) {
    painter.rect_filled(rect, 4.0, Color32::from_rgb(252, 252, 248));
    // Faint ruled lines help people write straight, as on paper.
    let ruling = Color32::from_rgb(214, 226, 240);
    let mut y = 120.0;
    while y * scale < rect.height() {
        let sy = rect.top() + y * scale;
        painter.line_segment(
            [
                Pos2::new(rect.left() + 8.0, sy),
                Pos2::new(rect.right() - 8.0, sy),
            ],
            EguiStroke::new(1.0, ruling),
        );
        y += 120.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(from: (f32, f32), to: (f32, f32)) -> Stroke {
        Stroke::new(vec![Pos2::new(from.0, from.1), Pos2::new(to.0, to.1)], 4.0)
    }

    #[test]
    fn undo_redo_and_clear_walk_the_history() {
        let mut pad = Sketchpad::default();
        pad.push_stroke(line((10.0, 10.0), (50.0, 10.0)));
        pad.push_stroke(line((10.0, 40.0), (50.0, 40.0)));
        assert_eq!(pad.strokes.len(), 2);
        assert!(pad.undo());
        assert_eq!(pad.strokes.len(), 1);
        assert!(pad.redo());
        assert_eq!(pad.strokes.len(), 2);
        assert!(pad.clear());
        assert!(pad.is_empty());
        assert!(pad.undo());
        assert_eq!(pad.strokes.len(), 2);
        assert!(!pad.redo() || pad.is_empty());
    }

    #[test]
    fn eraser_removes_only_strokes_it_touches() {
        let mut pad = Sketchpad::default();
        pad.push_stroke(line((10.0, 10.0), (100.0, 10.0)));
        pad.push_stroke(line((10.0, 200.0), (100.0, 200.0)));
        assert!(pad.erase_at(Pos2::new(50.0, 12.0), 5.0));
        assert_eq!(pad.strokes.len(), 1);
        assert_eq!(pad.strokes[0].points[0].y, 200.0);
    }

    #[test]
    fn raster_is_dark_ink_on_white_cropped_to_the_writing() {
        let mut pad = Sketchpad::default();
        assert!(pad.rasterize().is_none());
        pad.push_stroke(line((300.0, 100.0), (500.0, 100.0)));
        let raster = pad.rasterize().unwrap();
        let (w, h) = raster.image.dimensions();
        assert!((200..280).contains(&w), "width {w}");
        assert!(h < 80, "height {h}");
        let mid = raster.image.get_pixel(w / 2, h / 2).0;
        assert!(mid[0] < 64, "ink is dark: {mid:?}");
        assert_eq!(raster.image.get_pixel(0, 0).0, [255, 255, 255]);
        let back = raster.to_page([0.0, 0.0]);
        assert!((back.x - (300.0 - 2.0 - RASTER_MARGIN)).abs() < 1.0);
    }

    #[test]
    fn page_grows_below_the_lowest_ink() {
        let mut pad = Sketchpad::default();
        assert_eq!(pad.page_height(), MIN_PAGE_HEIGHT);
        pad.push_stroke(line((10.0, 700.0), (20.0, 700.0)));
        assert!(pad.page_height() >= 700.0 + GROW_MARGIN);
    }

    fn press(x: f32, y: f32, pressed: bool) -> egui::Event {
        egui::Event::PointerButton {
            pos: Pos2::new(x, y),
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        }
    }

    #[test]
    fn a_whole_stroke_in_one_frame_keeps_its_start_and_corner() {
        let mut pad = Sketchpad::default();
        // An "L" whose press, moves and release all arrive in one slow frame.
        let mut events = vec![press(10.0, 10.0, true)];
        events.extend(
            (1..=20).map(|i| egui::Event::PointerMoved(Pos2::new(10.0, 10.0 + i as f32 * 5.0))),
        );
        events.extend(
            (1..=12).map(|i| egui::Event::PointerMoved(Pos2::new(10.0 + i as f32 * 5.0, 110.0))),
        );
        events.push(press(70.0, 110.0, false));
        let finished = pad.follow_pen(&events, |_| true, |p| p);
        assert!(finished);
        assert_eq!(pad.strokes.len(), 1);
        let points = &pad.strokes[0].points;
        assert_eq!(points[0], Pos2::new(10.0, 10.0));
        assert_eq!(*points.last().unwrap(), Pos2::new(70.0, 110.0));
        let nearest_corner = points
            .iter()
            .map(|p| p.distance(Pos2::new(10.0, 110.0)))
            .fold(f32::INFINITY, f32::min);
        assert!(nearest_corner < 4.0, "corner cut by {nearest_corner}");
    }

    #[test]
    fn a_press_off_the_page_draws_nothing_and_a_tap_leaves_a_dot() {
        let mut pad = Sketchpad::default();
        let events = [
            press(5.0, 5.0, true),
            egui::Event::PointerMoved(Pos2::new(30.0, 5.0)),
            press(30.0, 5.0, false),
        ];
        assert!(!pad.follow_pen(&events, |_| false, |p| p));
        assert!(pad.is_empty());
        let tap = [press(40.0, 40.0, true), press(40.0, 40.0, false)];
        assert!(pad.follow_pen(&tap, |_| true, |p| p));
        assert_eq!(pad.strokes[0].points, vec![Pos2::new(40.0, 40.0)]);
    }

    #[test]
    fn a_pen_that_reports_force_draws_with_its_pressure() {
        let touch = |x: f32, force: f32, phase| egui::Event::Touch {
            device_id: egui::TouchDeviceId(1),
            id: egui::TouchId(0),
            phase,
            pos: Pos2::new(x, 10.0),
            force: Some(force),
        };
        let mut pad = Sketchpad::default();
        let mut events = vec![
            touch(10.0, 0.1, egui::TouchPhase::Start),
            press(10.0, 10.0, true),
        ];
        for i in 1..=20 {
            let x = 10.0 + i as f32 * 5.0;
            events.push(touch(x, 0.1 + i as f32 * 0.04, egui::TouchPhase::Move));
            events.push(egui::Event::PointerMoved(Pos2::new(x, 10.0)));
        }
        events.push(touch(110.0, 0.9, egui::TouchPhase::End));
        events.push(press(110.0, 10.0, false));
        assert!(pad.follow_pen(&events, |_| true, |p| p));
        let pen = &pad.strokes[0];
        assert_eq!(pen.pressures.len(), pen.points.len());
        assert!(pen.width_at(0) < pen.width_at(pen.points.len() - 1));

        // A mouse stroke after it has no pressure: an even line.
        let mouse = [
            press(10.0, 50.0, true),
            egui::Event::PointerMoved(Pos2::new(60.0, 50.0)),
            press(60.0, 50.0, false),
        ];
        assert!(pad.follow_pen(&mouse, |_| true, |p| p));
        assert!(pad.strokes[1].pressures.is_empty());
    }

    #[test]
    fn big_writing_is_scaled_to_print_size_with_bold_strokes() {
        let mut pad = Sketchpad::default();
        // "HI" written 200 units tall: three verticals and a flat bar.
        for x in [100.0, 200.0, 300.0] {
            pad.push_stroke(line((x, 100.0), (x, 300.0)));
        }
        pad.push_stroke(line((100.0, 200.0), (200.0, 200.0)));
        let raster = pad.rasterize().unwrap();
        assert!((raster.scale - RASTER_LETTER_HEIGHT / 200.0).abs() < 1e-3);
        let (_, h) = raster.image.dimensions();
        let expected = RASTER_LETTER_HEIGHT + 2.0 * RASTER_MARGIN;
        assert!((h as f32 - expected).abs() < 6.0, "height {h}");
        // The bar's ink is several pixels thick although the pen was thin at this scale.
        let x = ((150.0 - raster.origin.x) * raster.scale) as u32;
        let dark = (0..h)
            .filter(|y| raster.image.get_pixel(x, *y).0[0] < 128)
            .count();
        assert!(dark >= 4, "bar is {dark} px thick");
    }
}
