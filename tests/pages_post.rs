//! Score maps to lines: DBNet and CRAFT post-processing on synthetic maps, line grouping and
//! reading order, crop and deskew, CTC decoding, exporters, geometry.

use image::{Rgb, RgbImage};
use inkread::export::{Format, export};
use inkread::pipeline::craft_post::{DetectParams, regions_from_craft};
use inkread::pipeline::ctc::{CtcDecoder, CtcError};
use inkread::pipeline::db_post::{DbParams, regions_from_probability};
use inkread::pipeline::geometry::{
    RotatedRect, distance, min_area_rect, polygon_area, polygon_iou, scanned_area,
};
use inkread::pipeline::lines::{crop_line, group_into_lines};
use inkread::pipeline::score_map::ScoreMap;
use inkread::reading::{Line, Point, Reading, Region, Word, bbox_of};

fn blank_map(width: usize, height: usize, scale: f32) -> ScoreMap {
    ScoreMap {
        width,
        height,
        data: vec![0.0; width * height],
        scale: [scale, scale],
    }
}

/// Sets every map pixel whose centre lies in the rotated rectangle.
fn paint(map: &mut ScoreMap, rect: &RotatedRect, value: f32) {
    let (s, c) = rect.angle.sin_cos();
    for y in 0..map.height {
        for x in 0..map.width {
            let (dx, dy) = (x as f32 - rect.center[0], y as f32 - rect.center[1]);
            let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
            if u.abs() <= rect.width / 2.0 && v.abs() <= rect.height / 2.0 {
                map.data[y * map.width + x] = value;
            }
        }
    }
}

fn assert_close(a: f32, b: f32, tolerance: f32, what: &str) {
    assert!(
        (a - b).abs() <= tolerance,
        "{what}: {a} vs {b} (±{tolerance})"
    );
}

/// Pixels at indices 0..n span n - 1 between the first and last centre: the size DBNet
/// measures. Unclip grows each side by area * ratio / perimeter.
fn db_expected(w: f32, h: f32, ratio: f32) -> (f32, f32) {
    let d = w * h * ratio / (2.0 * (w + h));
    (w + 2.0 * d, h + 2.0 * d)
}

#[test]
fn db_axis_aligned_rectangle_becomes_an_unclipped_box_in_page_pixels() {
    let mut map = blank_map(200, 120, 2.0);
    // Map pixels x 20..=79, y 30..=49.
    paint(
        &mut map,
        &RotatedRect {
            center: [49.5, 39.5],
            width: 59.0,
            height: 19.0,
            angle: 0.0,
        },
        0.9,
    );
    // Without dilation the box spans the painted pixels' centres.
    let plain = DbParams {
        use_dilation: false,
        ..DbParams::default()
    };
    let regions = regions_from_probability(&map, &plain);
    assert_eq!(regions.len(), 1, "{regions:?}");
    let rect = min_area_rect(&regions[0].polygon).unwrap();
    let (w, h) = db_expected(59.0, 19.0, 1.6);
    assert_close(rect.center[0], 49.5 * 2.0, 0.05, "centre x");
    assert_close(rect.center[1], 39.5 * 2.0, 0.05, "centre y");
    assert_close(rect.width, w * 2.0, 0.05, "width");
    assert_close(rect.height, h * 2.0, 0.05, "height");
    // RapidOCR's 2 × 2 dilation (the default) grows the blob one pixel right and down.
    let regions = regions_from_probability(&map, &DbParams::default());
    let rect = min_area_rect(&regions[0].polygon).unwrap();
    let (w, h) = db_expected(60.0, 20.0, 1.6);
    assert_close(rect.center[0], 50.0 * 2.0, 0.05, "dilated centre x");
    assert_close(rect.center[1], 40.0 * 2.0, 0.05, "dilated centre y");
    assert_close(rect.width, w * 2.0, 0.05, "dilated width");
    assert_close(rect.height, h * 2.0, 0.05, "dilated height");
    // The box now also covers one unpainted row and column of the map: 0.9 × 1200 / 1281.
    assert_close(regions[0].score, 0.9 * 1200.0 / 1281.0, 1e-3, "box score");
    // Corners go clockwise from the top-left.
    let p = &regions[0].polygon;
    assert!(p[0][0] < p[1][0] && p[1][1] < p[2][1] && p[3][0] < p[2][0]);
}

#[test]
fn db_rotated_rectangle_keeps_its_angle() {
    let mut map = blank_map(240, 200, 1.0);
    let truth = RotatedRect {
        center: [120.0, 100.0],
        width: 150.0,
        height: 24.0,
        angle: 0.25,
    };
    paint(&mut map, &truth, 0.8);
    let regions = regions_from_probability(&map, &DbParams::default());
    assert_eq!(regions.len(), 1);
    let rect = min_area_rect(&regions[0].polygon).unwrap();
    assert_close(rect.angle, 0.25, 0.02, "angle");
    assert_close(rect.center[0], 120.0, 1.5, "centre x");
    assert_close(rect.center[1], 100.0, 1.5, "centre y");
    let (w, h) = db_expected(150.0, 24.0, 1.6);
    assert_close(rect.width, w, 4.0, "width");
    assert_close(rect.height, h, 4.0, "height");
}

#[test]
fn db_drops_faint_and_tiny_regions() {
    let mut map = blank_map(200, 100, 1.0);
    // Above the pixel threshold (0.3) but below the box threshold (0.5).
    paint(
        &mut map,
        &RotatedRect {
            center: [50.0, 30.0],
            width: 60.0,
            height: 20.0,
            angle: 0.0,
        },
        0.4,
    );
    // Strong but 2 × 2 pixels: below min_size.
    paint(
        &mut map,
        &RotatedRect {
            center: [150.5, 70.5],
            width: 1.0,
            height: 1.0,
            angle: 0.0,
        },
        0.95,
    );
    // One real region so the test also proves the map is read at all.
    paint(
        &mut map,
        &RotatedRect {
            center: [140.0, 30.0],
            width: 60.0,
            height: 14.0,
            angle: 0.0,
        },
        0.7,
    );
    let regions = regions_from_probability(&map, &DbParams::default());
    assert_eq!(regions.len(), 1, "{regions:?}");
    assert_close(
        bbox_of(&regions[0].polygon)[0],
        110.0 - 10.0,
        8.0,
        "left edge of the kept box",
    );
    let looser = DbParams {
        box_thresh: 0.3,
        ..DbParams::default()
    };
    assert_eq!(regions_from_probability(&map, &looser).len(), 2);
}

#[test]
fn db_rejects_a_map_of_the_wrong_size_without_panicking() {
    let map = ScoreMap {
        width: 10,
        height: 10,
        data: vec![1.0; 5],
        scale: [1.0, 1.0],
    };
    assert!(regions_from_probability(&map, &DbParams::default()).is_empty());
}

#[test]
fn craft_links_characters_into_words_and_respects_thresholds() {
    let (w, h) = (160, 60);
    let mut text = blank_map(w, h, 2.0);
    let mut link = blank_map(w, h, 2.0);
    // Word 1: two character blobs joined by a link; word 2: one blob far right.
    for cx in [20.0, 40.0] {
        paint(
            &mut text,
            &RotatedRect {
                center: [cx, 30.0],
                width: 12.0,
                height: 16.0,
                angle: 0.0,
            },
            0.9,
        );
    }
    paint(
        &mut link,
        &RotatedRect {
            center: [30.0, 30.0],
            width: 12.0,
            height: 8.0,
            angle: 0.0,
        },
        0.8,
    );
    paint(
        &mut text,
        &RotatedRect {
            center: [120.0, 30.0],
            width: 30.0,
            height: 16.0,
            angle: 0.0,
        },
        0.9,
    );
    // A faint blob: above low_text but its peak is below text_threshold.
    paint(
        &mut text,
        &RotatedRect {
            center: [80.0, 10.0],
            width: 10.0,
            height: 8.0,
            angle: 0.0,
        },
        0.5,
    );

    let mut regions = regions_from_craft(&text, &link, &DetectParams::default());
    regions.sort_by(|a, b| bbox_of(&a.polygon)[0].total_cmp(&bbox_of(&b.polygon)[0]));
    assert_eq!(regions.len(), 2, "{regions:?}");
    let first = bbox_of(&regions[0].polygon);
    // Spans both characters (map x 14..46 before dilation), in page pixels (× 2).
    assert!(
        first[0] <= 14.0 * 2.0 && first[2] >= 46.0 * 2.0,
        "{first:?}"
    );
    let second = bbox_of(&regions[1].polygon);
    assert!(
        second[0] >= 100.0 * 2.0 && second[2] >= 134.0 * 2.0,
        "{second:?}"
    );

    // Without the link the characters stay apart.
    let strict = DetectParams {
        link_threshold: 0.95,
        ..DetectParams::default()
    };
    assert_eq!(regions_from_craft(&text, &link, &strict).len(), 3);
    // A size threshold above the blobs' area drops everything small.
    let large_only = DetectParams {
        size_threshold: 515,
        ..DetectParams::default()
    };
    assert_eq!(regions_from_craft(&text, &link, &large_only).len(), 1);
}

fn rect_region(x0: f32, y0: f32, x1: f32, y1: f32) -> Region {
    Region {
        polygon: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
        score: 0.9,
    }
}

fn turned(region: &Region, angle: f32, about: Point) -> Region {
    let (s, c) = angle.sin_cos();
    let polygon = region
        .polygon
        .iter()
        .map(|p| {
            let (dx, dy) = (p[0] - about[0], p[1] - about[1]);
            [about[0] + dx * c - dy * s, about[1] + dx * s + dy * c]
        })
        .collect();
    Region {
        polygon,
        score: region.score,
    }
}

/// Two columns, two lines each, three words per line; word gaps 10 px, column gap 100 px,
/// line height 20 px.
fn two_column_words() -> (Vec<Region>, Vec<[f32; 4]>) {
    let mut words = Vec::new();
    let mut lines = Vec::new();
    for col_x in [0.0f32, 400.0] {
        for line_y in [0.0f32, 40.0] {
            for k in 0..3 {
                let x = col_x + k as f32 * 100.0;
                words.push(rect_region(x, line_y, x + 90.0, line_y + 20.0));
            }
            lines.push([col_x, line_y, col_x + 290.0, line_y + 20.0]);
        }
    }
    // Scramble the input order: grouping must not depend on it.
    words.reverse();
    words.swap(1, 7);
    (words, lines)
}

#[test]
fn words_merge_into_lines_read_column_by_column() {
    let (words, expected) = two_column_words();
    let lines = group_into_lines(&words);
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, want) in lines.iter().zip(&expected) {
        let got = bbox_of(&line.polygon);
        for k in 0..4 {
            assert_close(got[k], want[k], 0.5, "line box");
        }
    }
}

#[test]
fn skewed_page_groups_and_orders_the_same() {
    let (words, expected) = two_column_words();
    let angle = 3f32.to_radians();
    let skewed: Vec<Region> = words.iter().map(|w| turned(w, angle, [0.0, 0.0])).collect();
    let lines = group_into_lines(&skewed);
    assert_eq!(lines.len(), 4);
    for (line, want) in lines.iter().zip(&expected) {
        let rect = min_area_rect(&line.polygon).unwrap();
        assert_close(rect.angle, angle, 0.01, "line angle");
        assert_close(rect.width, want[2] - want[0], 1.0, "line length");
        let centre = [(want[0] + want[2]) / 2.0, (want[1] + want[3]) / 2.0];
        let (s, c) = angle.sin_cos();
        let expected_centre = [centre[0] * c - centre[1] * s, centre[0] * s + centre[1] * c];
        assert!(
            distance(rect.center, expected_centre) < 1.0,
            "{rect:?} vs {expected_centre:?}"
        );
    }
}

#[test]
fn a_heading_across_both_columns_is_read_first() {
    let (mut words, _) = two_column_words();
    words.push(rect_region(100.0, -60.0, 600.0, -30.0));
    let lines = group_into_lines(&words);
    assert_eq!(lines.len(), 5);
    assert_close(bbox_of(&lines[0].polygon)[1], -60.0, 0.5, "heading first");
    assert_close(
        bbox_of(&lines[1].polygon)[0],
        0.0,
        0.5,
        "then the left column",
    );
    assert_close(
        bbox_of(&lines[3].polygon)[0],
        400.0,
        0.5,
        "then the right column",
    );
}

/// A justified two-column page whose gutter (24 px) is no wider than the space two words of
/// one line may have between them, under a running head centred over the gutter.
#[test]
fn a_narrow_gutter_splits_lines_and_columns_are_read_in_turn() {
    let (line_h, gutter) = (20.0f32, 24.0f32);
    let mut words = vec![rect_region(200.0, -60.0, 400.0, -60.0 + line_h)];
    for col_x in [0.0f32, 290.0 + gutter] {
        for row in 0..6 {
            let y = row as f32 * 30.0;
            for k in 0..3 {
                let x = col_x + k as f32 * 100.0;
                words.push(rect_region(x, y, x + 90.0, y + line_h));
            }
        }
    }
    let lines = group_into_lines(&words);
    let boxes: Vec<[f32; 4]> = lines.iter().map(|l| bbox_of(&l.polygon)).collect();
    assert_eq!(boxes.len(), 13, "no line joins the two columns: {boxes:?}");
    assert_close(boxes[0][1], -60.0, 0.5, "running head first");
    for (k, b) in boxes[1..].iter().enumerate() {
        let (col_x, row) = if k < 6 {
            (0.0, k)
        } else {
            (290.0 + gutter, k - 6)
        };
        assert_close(b[0], col_x, 0.5, "column");
        assert_close(b[2], col_x + 290.0, 0.5, "line end");
        assert_close(b[1], row as f32 * 30.0, 0.5, "row");
    }
}

#[test]
fn single_column_lines_with_a_right_aligned_date_stay_top_to_bottom() {
    let regions = vec![
        rect_region(600.0, 0.0, 780.0, 20.0), // date, top right
        rect_region(0.0, 50.0, 780.0, 70.0),
        rect_region(0.0, 90.0, 500.0, 110.0),
        rect_region(0.0, 130.0, 200.0, 150.0), // signature-like short line, left
    ];
    let lines = group_into_lines(&regions);
    let tops: Vec<f32> = lines.iter().map(|l| bbox_of(&l.polygon)[1]).collect();
    assert_eq!(tops, vec![0.0, 50.0, 90.0, 130.0]);
}

#[test]
fn crop_deskews_a_rotated_line() {
    // A white page with a turned bar: red left half, blue right half, 200 × 30 px.
    let bar = RotatedRect {
        center: [200.0, 150.0],
        width: 200.0,
        height: 30.0,
        angle: 0.3,
    };
    let (s, c) = bar.angle.sin_cos();
    let page = RgbImage::from_fn(400, 300, |x, y| {
        let (dx, dy) = (
            x as f32 + 0.5 - bar.center[0],
            y as f32 + 0.5 - bar.center[1],
        );
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        if u.abs() <= 100.0 && v.abs() <= 15.0 {
            if u < 0.0 {
                Rgb([220, 0, 0])
            } else {
                Rgb([0, 0, 220])
            }
        } else {
            Rgb([255, 255, 255])
        }
    });
    let crop = crop_line(&page, &bar.corners());
    // 10 % of the height as padding on every side.
    assert_eq!(crop.dimensions(), (206, 36));
    let mid = crop.height() / 2;
    assert!(
        crop.get_pixel(30, mid)[0] > 180 && crop.get_pixel(30, mid)[2] < 60,
        "left is red"
    );
    assert!(
        crop.get_pixel(176, mid)[2] > 180 && crop.get_pixel(176, mid)[0] < 60,
        "right is blue"
    );
    // Upright: the whole middle row is coloured, the top padding row is white.
    let coloured = (10..196)
        .filter(|&x| crop.get_pixel(x, mid)[1] < 60)
        .count();
    assert_eq!(coloured, 186);
    let white = (10..196).filter(|&x| crop.get_pixel(x, 0)[1] > 200).count();
    assert!(white > 180, "top padding row is page background ({white})");
}

#[test]
fn crop_survives_degenerate_polygons() {
    let page = RgbImage::from_pixel(50, 20, Rgb([1, 2, 3]));
    assert_eq!(crop_line(&page, &[]).dimensions(), (1, 1));
    let crop = crop_line(&page, &[[5.0, 5.0], [5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]);
    assert!(crop.width() >= 1 && crop.height() >= 1);
    let outside = crop_line(
        &page,
        &[
            [-100.0, -100.0],
            [900.0, -100.0],
            [900.0, 900.0],
            [-100.0, 900.0],
        ],
    );
    assert_eq!(outside.get_pixel(0, 0), &Rgb([1, 2, 3]));
}

fn one_hot_rows(path: &[usize], classes: usize, p: f32) -> Vec<f32> {
    let rest = (1.0 - p) / (classes - 1) as f32;
    path.iter()
        .flat_map(|&k| (0..classes).map(move |c| if c == k { p } else { rest }))
        .collect()
}

#[test]
fn ctc_collapses_repeats_keeps_blank_separated_doubles_and_rates_words() {
    let decoder = CtcDecoder::new(["a", "b", " ", "c"].map(String::from), 0);
    assert_eq!(decoder.labels[0], "");
    // classes: 0 blank, 1 a, 2 b, 3 space, 4 c
    let path = [1, 1, 0, 1, 2, 2, 0, 3, 4, 4, 0];
    let mut probs = one_hot_rows(&path, 5, 0.9);
    // Make the second 'c' step the peak and the 'b' run weaker.
    probs[9 * 5 + 4] = 0.95;
    probs[4 * 5 + 2] = 0.6;
    probs[5 * 5 + 2] = 0.7;
    let decoded = decoder.decode(&probs, path.len()).unwrap();
    assert_eq!(decoded.text(), "aab c");
    let confidences: Vec<f32> = decoded.chars.iter().map(|c| c.confidence).collect();
    assert_eq!(confidences, vec![0.9, 0.9, 0.7, 0.9, 0.95]);
    let line = decoded.line_text();
    assert_eq!(line.text, "aab c");
    assert_eq!(
        line.words,
        vec![
            Word {
                text: "aab".into(),
                confidence: 0.7
            },
            Word {
                text: "c".into(),
                confidence: 0.95
            }
        ]
    );
    assert_close(
        line.confidence,
        (0.9 + 0.9 + 0.7 + 0.9 + 0.95) / 5.0,
        1e-6,
        "line mean",
    );
}

#[test]
fn ctc_all_blank_is_an_empty_line_and_bad_shapes_are_errors() {
    let decoder = CtcDecoder::new(["x", "y"].map(String::from), 0);
    let line = decoder
        .decode_line(&one_hot_rows(&[0, 0, 0, 0], 3, 0.8), 4)
        .unwrap();
    assert_eq!(line.text, "");
    assert!(line.words.is_empty());
    assert_close(line.confidence, 0.8, 1e-6, "empty-line confidence");
    assert!(matches!(
        decoder.decode(&[0.5; 7], 3),
        Err(CtcError::Shape { .. })
    ));
    assert_eq!(decoder.decode_line(&[], 0).unwrap().text, "");
}

/// Rows for "a", a gap of blank-topped frames with `space` probability each, then "b".
fn gap_rows(space: &[f32]) -> (Vec<f32>, usize) {
    // classes: 0 blank, 1 a, 2 b, 3 space
    let mut rows = one_hot_rows(&[1], 4, 0.97);
    for &s in space {
        let blank = 1.0 - s - 0.02;
        rows.extend([blank, 0.01, 0.01, s]);
    }
    rows.extend(one_hot_rows(&[2], 4, 0.97));
    (rows, space.len() + 2)
}

#[test]
fn ctc_a_word_space_split_over_frames_is_kept() {
    let decoder = CtcDecoder::new(["a", "b", " "].map(String::from), 0);
    // No frame picks the space, yet spaces somewhere in the gap outweigh all-blank:
    // odds 0.45/0.53 + 0.45/0.53 + (0.45/0.53)^2 = 2.42 > 1.
    let (probs, t) = gap_rows(&[0.45, 0.45]);
    let line = decoder.decode_line(&probs, t).unwrap();
    assert_eq!(line.text, "a b");
    assert_eq!(line.words.len(), 2);
    // A faint space belief between letters of one word stays out: odds 0.25 + 0.25 + 0.0625.
    let (probs, t) = gap_rows(&[0.2, 0.2]);
    assert_eq!(decoder.decode_line(&probs, t).unwrap().text, "ab");
    // One frame at 0.45 against 0.53 blank: odds 0.85, the space loses.
    let (probs, t) = gap_rows(&[0.45]);
    assert_eq!(decoder.decode_line(&probs, t).unwrap().text, "ab");
    // Space, blank, space: one gap, one space.
    let text = decoder
        .decode_line(&one_hot_rows(&[1, 3, 0, 3, 2], 4, 0.9), 5)
        .unwrap()
        .text;
    assert_eq!(text, "a b");
}

#[test]
fn ctc_blank_can_sit_last() {
    // EasyOCR-style alphabets put the blank first, some models put it last.
    let decoder = CtcDecoder::new(["h", "i"].map(String::from), 2);
    let text = decoder
        .decode_line(&one_hot_rows(&[0, 2, 1, 1], 3, 0.9), 4)
        .unwrap()
        .text;
    assert_eq!(text, "hi");
}

fn sample_reading() -> Reading {
    let line = |text: &str, y: f32| {
        let polygon = vec![
            [10.4, y],
            [200.6, y + 2.0],
            [200.0, y + 30.0],
            [10.0, y + 28.0],
        ];
        Line {
            text: text.to_string(),
            confidence: 0.87,
            words: text
                .split_whitespace()
                .map(|w| Word {
                    text: w.to_string(),
                    confidence: 0.8,
                })
                .collect(),
            baseline: None,
            bbox: bbox_of(&polygon),
            polygon,
        }
    };
    Reading {
        image: "scan \"1\" <a&b>.png".into(),
        width: 300,
        height: 200,
        lines: vec![
            line("Fish & <chips> \"now\"", 20.0),
            line("it's 5 > 3", 80.0),
        ],
        timings_ms: Default::default(),
    }
}

/// Walks the markup: every tag closes in order, no raw `<` or `&` in text or attributes.
fn assert_well_formed(xml: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        check_text(&rest[..start]);
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        let quotes = tag.matches('"').count();
        assert_eq!(quotes % 2, 0, "unbalanced quotes in <{tag}>");
        check_text(tag);
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else if !tag.ends_with('/') {
            stack.push(
                tag.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

fn check_text(text: &str) {
    assert!(!text.contains('<'), "raw < in {text:?}");
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| entity.starts_with(e)),
            "bare & in {text:?}"
        );
    }
}

#[test]
fn xml_exports_are_well_formed_and_escaped() {
    let reading = sample_reading();
    for format in [Format::Hocr, Format::PageXml, Format::Alto] {
        let xml = export(&reading, format);
        assert_well_formed(&xml);
        assert!(xml.contains("&lt;chips&gt;"), "{format:?}");
        assert!(xml.contains("&amp;"), "{format:?}");
        assert!(xml.contains("&quot;"), "{format:?}");
    }
    let page = export(&reading, Format::PageXml);
    assert!(page.contains("pagecontent/2019-07-15"));
    assert!(
        page.contains("<Coords points=\"10,20 201,22 200,50 10,48\"/>"),
        "{page}"
    );
    assert!(page.contains("<Unicode>Fish &amp; &lt;chips&gt; &quot;now&quot;</Unicode>"));
    let alto = export(&reading, Format::Alto);
    assert!(alto.contains("ns-v4#"));
    assert!(alto.contains("CONTENT=\"&lt;chips&gt;\""));
    assert!(
        alto.contains(
            "<TextLine ID=\"line_1\" HPOS=\"10\" VPOS=\"20\" WIDTH=\"191\" HEIGHT=\"30\">"
        )
    );
    let hocr = export(&reading, Format::Hocr);
    assert!(hocr.contains("title=\"bbox 10 20 201 50; x_wconf 87\""));
}

#[test]
fn text_and_json_exports_round_trip() {
    let reading = sample_reading();
    assert_eq!(
        export(&reading, Format::Text),
        "Fish & <chips> \"now\"\nit's 5 > 3\n"
    );
    let back: Reading = serde_json::from_str(&export(&reading, Format::Json)).unwrap();
    assert_eq!(back, reading);
    let json: serde_json::Value = serde_json::from_str(&export(&reading, Format::Json)).unwrap();
    assert_eq!(json["lines"][0]["bbox"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        json["lines"][1]["polygon"].as_array().map(Vec::len),
        Some(4)
    );
}

#[test]
fn formats_parse_from_their_names() {
    for (name, format) in [
        ("text", Format::Text),
        ("json", Format::Json),
        ("hocr", Format::Hocr),
        ("page-xml", Format::PageXml),
        ("alto", Format::Alto),
    ] {
        assert_eq!(name.parse::<Format>(), Ok(format));
        let via_clap = <Format as clap::ValueEnum>::from_str(name, false);
        assert_eq!(via_clap, Ok(format));
    }
    assert!("pdf".parse::<Format>().is_err());
}

#[test]
fn iou_of_known_polygons() {
    let square = |x: f32, y: f32, s: f32| vec![[x, y], [x + s, y], [x + s, y + s], [x, y + s]];
    assert_close(
        polygon_iou(&square(0.0, 0.0, 10.0), &square(0.0, 0.0, 10.0)),
        1.0,
        1e-3,
        "same",
    );
    // Half overlap: 50 / 150.
    assert_close(
        polygon_iou(&square(0.0, 0.0, 10.0), &square(5.0, 0.0, 10.0)),
        1.0 / 3.0,
        1e-3,
        "half",
    );
    assert_eq!(
        polygon_iou(&square(0.0, 0.0, 10.0), &square(20.0, 0.0, 10.0)),
        0.0
    );
    // An L shape (area 75) against the square it was cut from (area 100): IoU 0.75.
    let l_shape = vec![
        [0.0, 0.0],
        [10.0, 0.0],
        [10.0, 5.0],
        [5.0, 5.0],
        [5.0, 10.0],
        [0.0, 10.0],
    ];
    assert_close(polygon_area(&l_shape), 75.0, 1e-4, "shoelace");
    assert_close(scanned_area(&l_shape), 75.0, 0.1, "scan lines");
    assert_close(
        polygon_iou(&l_shape, &square(0.0, 0.0, 10.0)),
        0.75,
        1e-3,
        "L in square",
    );
    // A diamond inside a square: 50 / 100.
    let diamond = vec![[5.0, 0.0], [10.0, 5.0], [5.0, 10.0], [0.0, 5.0]];
    assert_close(
        polygon_iou(&diamond, &square(0.0, 0.0, 10.0)),
        0.5,
        2e-3,
        "diamond",
    );
}

/// Compares with RapidOCR 1.4.4's own post-processing on PP-OCRv4 probability maps that
/// `scripts/dump_db_maps.py` wrote: by default the committed fixtures (pages this project drew);
/// `INKREAD_DB_MAPS` points it at another dump (e.g. of the printed eval pages).
#[test]
fn db_post_matches_rapidocr_boxes() {
    let dir = std::env::var_os("INKREAD_DB_MAPS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db_maps")
        });
    let mut pages = 0;
    for entry in std::fs::read_dir(&dir).expect("the DB map folder exists") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let map = dumped_map(&path, &meta);
        let reference: Vec<Vec<Point>> = serde_json::from_value(meta["boxes"].clone()).unwrap();
        assert!(
            !reference.is_empty(),
            "{}: no reference boxes",
            path.display()
        );
        let ours: Vec<Vec<Point>> = regions_from_probability(&map, &DbParams::default())
            .into_iter()
            .map(|r| r.polygon)
            .collect();
        assert_eq!(ours.len(), reference.len(), "{}", path.display());
        let matches = inkread::eval::metrics::match_polygons(&reference, &ours, 0.5);
        for (i, m) in matches.iter().enumerate() {
            let d = m.unwrap_or_else(|| panic!("{}: box {i} unmatched", path.display()));
            let iou = polygon_iou(&reference[i], &ours[d]);
            // RapidOCR rounds to whole pixels at several steps; thin lines lose a few % IoU.
            assert!(iou > 0.85, "{}: box {i} IoU {iou}", path.display());
        }
        pages += 1;
    }
    assert!(pages > 0, "no dumped maps in {}", dir.display());
}

/// The probability map beside a dump's JSON: an 8-bit PNG (`<stem>.map.png`, probability
/// times 255) or, from older dumps, raw little-endian f32 (`<stem>.f32`).
fn dumped_map(json: &std::path::Path, meta: &serde_json::Value) -> ScoreMap {
    let num = |k: &str| meta[k].as_f64().unwrap() as f32;
    let (mw, mh) = (num("map_w"), num("map_h"));
    let stem = json.with_extension("");
    let png = stem.with_extension("map.png");
    let data: Vec<f32> = if png.is_file() {
        let grey = image::open(&png).unwrap().into_luma8();
        assert_eq!(
            grey.dimensions(),
            (mw as u32, mh as u32),
            "{}",
            png.display()
        );
        grey.into_raw()
            .into_iter()
            .map(|v| f32::from(v) / 255.0)
            .collect()
    } else {
        let bytes = std::fs::read(json.with_extension("f32")).unwrap();
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    ScoreMap {
        width: mw as usize,
        height: mh as usize,
        data,
        scale: [num("page_w") / mw, num("page_h") / mh],
    }
}
