//! Column gutters: vertical bands of the page that text does not cross, with text on both
//! sides. They are found on the detector's regions before any merging, so that grouping can
//! refuse to join words across a gutter, and reading order can read column by column.

use super::frame::{FrameBox, horizontal_extent, median_height};
use super::lines::LineParams;

/// The x positions (middles of the gutters, in the deskewed frame) that separate columns.
///
/// A gutter is an x-band at least `column_gap` median heights wide, crossed by at most
/// `gutter_crossings` of the text's rows (a running head or a heading centred over both
/// columns crosses it; the rows are the most narrow boxes stacked over any x, so the share
/// means the same for line detectors and word detectors), with at least `min_column_lines` boxes wholly on each side of its
/// middle whose vertical extents overlap: two columns side by side, not a date above a
/// signature.
pub(super) fn find_gutters(boxes: &[FrameBox], params: &LineParams) -> Vec<f32> {
    if boxes.len() < 2 * params.min_column_lines {
        return Vec::new();
    }
    let (left, right) = horizontal_extent(boxes);
    let narrow: Vec<&FrameBox> = boxes
        .iter()
        .filter(|b| b.width() < params.spanning_width * (right - left))
        .collect();
    let all: Vec<&FrameBox> = boxes.iter().collect();
    let min_width = (params.column_gap * median_height(&all)).max(1.0);
    sparse_bands(&narrow, params.gutter_crossings)
        .into_iter()
        .filter(|&(a, b)| b - a >= min_width)
        .map(|(a, b)| (a + b) / 2.0)
        .filter(|&x| separates_columns(&narrow, x, params.min_column_lines))
        .collect()
}

/// Maximal x-intervals crossed by at most `share` of the most boxes stacked over any x (at
/// least one box), between text on both sides (the margins are not bands).
fn sparse_bands(boxes: &[&FrameBox], share: f32) -> Vec<(f32, f32)> {
    let mut events: Vec<(f32, i32)> = boxes.iter().flat_map(|b| [(b.x0, 1), (b.x1, -1)]).collect();
    // At one x, boxes that end are counted out before boxes that start are counted in.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let peak = events
        .iter()
        .scan(0i32, |depth, &(_, step)| {
            *depth += step;
            Some(*depth)
        })
        .max()
        .unwrap_or(0);
    let allowed = ((peak as f32 * share) as i32).max(1);
    let (mut depth, mut start) = (0i32, None);
    let mut bands = Vec::new();
    for (x, step) in events {
        let before = depth;
        depth += step;
        if before > allowed && depth <= allowed {
            start = Some(x);
        } else if before <= allowed
            && depth > allowed
            && let Some(s) = start.take()
        {
            bands.push((s, x));
        }
    }
    bands
}

/// Whether enough boxes lie wholly left and wholly right of `x`, side by side. (A box that
/// reaches into the band's edge, as a right-aligned page number may, still counts.)
fn separates_columns(boxes: &[&FrameBox], x: f32, min_lines: usize) -> bool {
    let left: Vec<&FrameBox> = boxes.iter().copied().filter(|b| b.x1 <= x).collect();
    let right: Vec<&FrameBox> = boxes.iter().copied().filter(|b| b.x0 >= x).collect();
    if left.len() < min_lines || right.len() < min_lines {
        return false;
    }
    let (l0, l1) = vertical_extent(&left);
    let (r0, r1) = vertical_extent(&right);
    l1.min(r1) > l0.max(r0)
}

fn vertical_extent(boxes: &[&FrameBox]) -> (f32, f32) {
    let top = boxes.iter().map(|b| b.y0).fold(f32::MAX, f32::min);
    let bottom = boxes.iter().map(|b| b.y1).fold(f32::MIN, f32::max);
    (top, bottom)
}

/// Whether the horizontal span `x0..x1` reaches across any of the gutters.
pub(super) fn crosses_gutter(x0: f32, x1: f32, gutters: &[f32]) -> bool {
    gutters.iter().any(|&g| x0 < g && x1 > g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x0: f32, y0: f32, x1: f32, y1: f32) -> FrameBox {
        FrameBox {
            x0,
            y0,
            x1,
            y1,
            members: vec![],
        }
    }

    /// Two justified columns of `rows` lines, 20 px tall, a 30 px gutter at 300..330.
    fn two_columns(rows: usize) -> Vec<FrameBox> {
        (0..rows)
            .flat_map(|r| {
                let y = r as f32 * 30.0;
                [b(0.0, y, 300.0, y + 20.0), b(330.0, y, 630.0, y + 20.0)]
            })
            .collect()
    }

    #[test]
    fn a_gutter_between_two_columns_is_found() {
        let gutters = find_gutters(&two_columns(10), &LineParams::default());
        assert_eq!(gutters, vec![315.0]);
    }

    #[test]
    fn a_running_head_over_the_gutter_does_not_hide_it() {
        let mut boxes = two_columns(10);
        boxes.push(b(200.0, -40.0, 430.0, -20.0));
        assert_eq!(find_gutters(&boxes, &LineParams::default()), vec![315.0]);
    }

    #[test]
    fn word_boxes_find_the_same_gutter() {
        // Five rows of twelve words per column: far more boxes than rows.
        let mut boxes: Vec<FrameBox> = (0..5)
            .flat_map(|r| {
                let y = r as f32 * 30.0;
                (0..24).map(move |k| {
                    let x = (k % 12) as f32 * 25.0 + if k < 12 { 0.0 } else { 330.0 };
                    b(x, y, x + 20.0, y + 20.0)
                })
            })
            .collect();
        boxes.push(b(200.0, -40.0, 430.0, -20.0));
        assert_eq!(find_gutters(&boxes, &LineParams::default()), vec![312.5]);
    }

    #[test]
    fn a_narrow_gap_is_a_word_space_not_a_gutter() {
        let mut boxes = two_columns(10);
        for bx in boxes.iter_mut().filter(|bx| bx.x0 > 0.0) {
            bx.x0 = 310.0;
        }
        assert!(find_gutters(&boxes, &LineParams::default()).is_empty());
    }

    #[test]
    fn text_right_of_a_column_but_below_it_is_no_column() {
        // Left-aligned lines, then a right-aligned closing under them: never side by side.
        let mut boxes: Vec<FrameBox> = (0..5)
            .map(|r| b(0.0, r as f32 * 30.0, 250.0, r as f32 * 30.0 + 20.0))
            .collect();
        boxes.push(b(400.0, 200.0, 600.0, 220.0));
        boxes.push(b(400.0, 230.0, 600.0, 250.0));
        assert!(find_gutters(&boxes, &LineParams::default()).is_empty());
    }

    #[test]
    fn crossing_is_strict() {
        assert!(crosses_gutter(10.0, 20.0, &[15.0]));
        assert!(!crosses_gutter(15.0, 20.0, &[15.0]));
        assert!(!crosses_gutter(0.0, 10.0, &[15.0]));
    }
}
