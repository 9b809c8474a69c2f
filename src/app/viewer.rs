//! The image viewer: zoom, pan and fit, with the detected lines drawn over the page.

use eframe::egui;

use egui::{Color32, Pos2, Rect, Sense, Stroke, TextureHandle, Vec2};

use crate::reading::{Point, Reading};

/// Which line the pointer is over and which one is selected; shared by viewer and results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Highlight {
    pub hovered: Option<usize>,
    pub selected: Option<usize>,
}

/// Colours regions by the recognizer's confidence.
#[derive(Clone, Copy, Debug)]
pub struct Confidence {
    pub low: f32,
    pub high: f32,
}

impl Confidence {
    pub fn colour(&self, confidence: f32) -> Color32 {
        if confidence < self.low {
            Color32::from_rgb(220, 50, 47)
        } else if confidence < self.high {
            Color32::from_rgb(230, 160, 0)
        } else {
            Color32::from_rgb(40, 170, 70)
        }
    }
}

/// Paints every line's polygon (and its text when asked); returns the line under the pointer.
/// Where a region's recognized text is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Labels {
    Hidden,
    /// Over the region, on a pale tag that hides the page beneath (scans: compare in place).
    Over,
    /// On a tag just below the region, so the ink stays in view (the sketchpad's strokes).
    Below,
}

impl Labels {
    /// The setting "show text on regions" for a page.
    pub fn over_if(show: bool) -> Labels {
        if show { Labels::Over } else { Labels::Hidden }
    }
}

pub fn paint_regions(
    painter: &egui::Painter,
    reading: &Reading,
    to_screen: &dyn Fn(Point) -> Pos2,
    pointer: Option<Pos2>,
    highlight: Highlight,
    colours: Confidence,
    labels: Labels,
) -> Option<usize> {
    let mut under_pointer = None;
    for (i, line) in reading.lines.iter().enumerate() {
        let screen: Vec<Pos2> = line.polygon.iter().map(|p| to_screen(*p)).collect();
        if screen.len() < 2 {
            continue;
        }
        if pointer.is_some_and(|p| point_in_polygon(p, &screen)) {
            under_pointer = Some(i);
        }
        let colour = colours.colour(line.confidence);
        let lit = highlight.hovered == Some(i) || highlight.selected == Some(i);
        if lit {
            let fill = colour.gamma_multiply(0.25);
            painter.add(egui::Shape::convex_polygon(
                screen.clone(),
                fill,
                Stroke::NONE,
            ));
        }
        let width = if highlight.selected == Some(i) {
            3.0
        } else if lit {
            2.5
        } else {
            1.5
        };
        painter.add(egui::Shape::closed_line(
            screen.clone(),
            Stroke::new(width, colour),
        ));
        // The baseline, where the detector gives one (kraken's segmenter).
        if let Some(baseline) = &line.baseline {
            let points: Vec<Pos2> = baseline.iter().map(|p| to_screen(*p)).collect();
            painter.add(egui::Shape::line(points, Stroke::new(width + 1.0, colour)));
        }
        match labels {
            _ if line.text.is_empty() => {}
            Labels::Hidden => {}
            Labels::Over => paint_label(painter, &screen, &line.text, colour, lit),
            Labels::Below => paint_tag_below(painter, &screen, &line.text, colour, lit),
        }
    }
    under_pointer
}

/// The recognized text laid over its region, sized to the line, on a pale tag so it reads
/// on any page and can be compared with the image around it. A region too small on screen
/// for readable text gets a tag above it only while hovered or selected.
fn paint_label(painter: &egui::Painter, screen: &[Pos2], text: &str, colour: Color32, lit: bool) {
    const SMALLEST_READABLE: f32 = 8.0;
    let bounds = Rect::from_points(screen);
    let layout = |size: f32| {
        painter.layout_no_wrap(
            text.to_owned(),
            egui::FontId::proportional(size),
            Color32::BLACK,
        )
    };
    let mut size = (bounds.height() * 0.7).clamp(4.0, 28.0);
    let mut galley = layout(size);
    if galley.size().x > bounds.width() && galley.size().x > 0.0 {
        size = (size * bounds.width() / galley.size().x).max(4.0);
        galley = layout(size);
    }
    let bg = if lit {
        Color32::from_rgb(255, 248, 200)
    } else {
        Color32::from_white_alpha(235)
    };
    if size >= SMALLEST_READABLE {
        painter.rect_filled(bounds, 2.0, bg);
        let at = Pos2::new(
            bounds.left() + 1.0,
            bounds.center().y - galley.size().y / 2.0,
        );
        painter.galley(at, galley, Color32::BLACK);
        painter.rect_stroke(
            bounds,
            2.0,
            Stroke::new(1.0, colour),
            egui::StrokeKind::Outside,
        );
        return;
    }
    if !lit {
        return;
    }
    let galley = layout(13.0);
    let tag_size = galley.size() + Vec2::new(6.0, 2.0);
    let mut min = Pos2::new(bounds.left(), bounds.top() - tag_size.y - 1.0);
    if min.y < painter.clip_rect().top() {
        min.y = bounds.bottom() + 1.0;
    }
    let tag = Rect::from_min_size(min, tag_size);
    painter.rect_filled(tag, 3.0, bg);
    painter.rect_stroke(tag, 3.0, Stroke::new(1.0, colour), egui::StrokeKind::Inside);
    painter.galley(min + Vec2::new(3.0, 1.0), galley, Color32::BLACK);
}

/// The text on a tag under the region, at a readable size, leaving the region uncovered.
fn paint_tag_below(
    painter: &egui::Painter,
    screen: &[Pos2],
    text: &str,
    colour: Color32,
    lit: bool,
) {
    let bounds = Rect::from_points(screen);
    let size = (bounds.height() * 0.5).clamp(13.0, 28.0);
    let galley = painter.layout_no_wrap(
        text.to_owned(),
        egui::FontId::proportional(size),
        Color32::BLACK,
    );
    let min = Pos2::new(bounds.left(), bounds.bottom() + 3.0);
    let tag = Rect::from_min_size(min, galley.size() + Vec2::new(8.0, 4.0));
    let bg = if lit {
        Color32::from_rgb(255, 248, 200)
    } else {
        Color32::from_white_alpha(235)
    };
    painter.rect_filled(tag, 3.0, bg);
    painter.rect_stroke(tag, 3.0, Stroke::new(1.0, colour), egui::StrokeKind::Inside);
    painter.galley(min + Vec2::new(4.0, 2.0), galley, Color32::BLACK);
}

/// Even-odd rule; polygons are small, so the simple loop is enough.
pub fn point_in_polygon(p: Pos2, poly: &[Pos2]) -> bool {
    let mut inside = false;
    let mut j = poly.len().wrapping_sub(1);
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[j]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Zoom and pan of the viewer. `fit` recomputes the zoom to show the whole page.
pub struct Viewer {
    pub zoom: f32,
    pub offset: Vec2,
    pub fit: bool,
}

impl Default for Viewer {
    fn default() -> Self {
        Self {
            zoom: 1.0,
            offset: Vec2::ZERO,
            fit: true,
        }
    }
}

/// What the viewer saw the user do this frame.
#[derive(Default)]
pub struct ViewerEvents {
    pub hovered: Option<usize>,
    pub clicked: Option<Option<usize>>,
}

impl Viewer {
    pub fn toolbar(&mut self, ui: &mut egui::Ui, show_text: &mut bool) {
        ui.horizontal(|ui| {
            if ui
                .button("Fit")
                .on_hover_text("Fit the page to the window")
                .clicked()
            {
                self.fit = true;
            }
            if ui.button("100%").clicked() {
                self.fit = false;
                self.zoom = 1.0;
                self.offset = Vec2::ZERO;
            }
            if ui.button("-").on_hover_text("Zoom out").clicked() {
                self.fit = false;
                self.zoom = (self.zoom / 1.25).max(0.05);
            }
            if ui.button("+").on_hover_text("Zoom in").clicked() {
                self.fit = false;
                self.zoom = (self.zoom * 1.25).min(20.0);
            }
            ui.label(format!("{:.0}%", self.zoom * 100.0));
            ui.checkbox(show_text, "Text on regions");
        });
    }

    /// Shows the page with its regions. Scroll or pinch zooms around the pointer, drag pans.
    #[allow(clippy::too_many_arguments)]
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        texture: &TextureHandle,
        image_size: [u32; 2],
        reading: Option<&Reading>,
        highlight: Highlight,
        colours: Confidence,
        show_text: bool,
    ) -> ViewerEvents {
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let area = response.rect;
        let size = Vec2::new(image_size[0].max(1) as f32, image_size[1].max(1) as f32);
        if self.fit {
            self.zoom = (area.width() / size.x)
                .min(area.height() / size.y)
                .clamp(0.02, 20.0);
            self.offset = Vec2::ZERO;
        }
        self.handle_zoom_and_pan(ui, &response, area, size);
        let image_rect = Rect::from_center_size(area.center() + self.offset, size * self.zoom);
        painter.rect_filled(area, 0.0, ui.visuals().extreme_bg_color);
        let painter = painter.with_clip_rect(area);
        painter.image(
            texture.id(),
            image_rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
        let mut events = ViewerEvents::default();
        if let Some(reading) = reading {
            let zoom = self.zoom;
            let to_screen = |p: Point| image_rect.min + Vec2::new(p[0], p[1]) * zoom;
            let pointer = response.hover_pos();
            events.hovered = paint_regions(
                &painter,
                reading,
                &to_screen,
                pointer,
                highlight,
                colours,
                Labels::over_if(show_text),
            );
            if response.clicked() {
                events.clicked = Some(events.hovered);
            }
        }
        events
    }

    fn handle_zoom_and_pan(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        area: Rect,
        size: Vec2,
    ) {
        if response.dragged() {
            self.fit = false;
            self.offset += response.drag_delta();
        }
        if response.double_clicked() {
            self.fit = true;
        }
        if !response.hovered() {
            return;
        }
        let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = pinch * (scroll / 400.0).exp();
        if (factor - 1.0).abs() > 1e-4 {
            self.fit = false;
            let new_zoom = (self.zoom * factor).clamp(0.02, 20.0);
            // Keep the page point under the pointer where it is.
            if let Some(pointer) = response.hover_pos() {
                let centre = area.center() + self.offset;
                let from_centre = pointer - centre;
                self.offset += from_centre - from_centre * (new_zoom / self.zoom);
            }
            self.zoom = new_zoom;
        }
        // Never lose the page entirely off-screen.
        let half = (size * self.zoom + area.size()) / 2.0 - Vec2::splat(40.0);
        self.offset = self
            .offset
            .clamp(-half.max(Vec2::ZERO), half.max(Vec2::ZERO));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_in_polygon_for_a_box() {
        let sq = [
            Pos2::new(0.0, 0.0),
            Pos2::new(10.0, 0.0),
            Pos2::new(10.0, 5.0),
            Pos2::new(0.0, 5.0),
        ];
        assert!(point_in_polygon(Pos2::new(5.0, 2.0), &sq));
        assert!(!point_in_polygon(Pos2::new(11.0, 2.0), &sq));
        assert!(!point_in_polygon(Pos2::new(5.0, -1.0), &sq));
    }

    #[test]
    fn confidence_colours_follow_thresholds() {
        let c = Confidence {
            low: 0.5,
            high: 0.8,
        };
        assert_ne!(c.colour(0.2), c.colour(0.6));
        assert_ne!(c.colour(0.6), c.colour(0.9));
    }
}
