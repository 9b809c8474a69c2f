//! The order lines are read in. Lines that span the text's width or cross a column gutter
//! (headings, running heads, footers) separate blocks; each block is read column by column
//! when its columns stand side by side, otherwise top to bottom; lines that share a row go
//! left to right.

use super::columns::crosses_gutter;
use super::frame::{FrameBox, horizontal_extent};

/// Indices of `lines` in reading order; `gutters` are the column gutters' x positions.
pub(super) fn reading_order(
    lines: &[FrameBox],
    gutters: &[f32],
    spanning_width: f32,
) -> Vec<usize> {
    let all: Vec<usize> = (0..lines.len()).collect();
    if gutters.is_empty() {
        return rows_top_down(lines, all);
    }
    let (left, right) = horizontal_extent(lines);
    let is_separator = |l: &FrameBox| {
        l.width() >= spanning_width * (right - left) || crosses_gutter(l.x0, l.x1, gutters)
    };
    let mut by_y = all;
    by_y.sort_by(|&a, &b| lines[a].center_y().total_cmp(&lines[b].center_y()));
    let mut order = Vec::with_capacity(lines.len());
    let mut block: Vec<usize> = Vec::new();
    for i in by_y {
        if is_separator(&lines[i]) {
            order.extend(read_block(lines, std::mem::take(&mut block), gutters));
            order.push(i);
        } else {
            block.push(i);
        }
    }
    order.extend(read_block(lines, block, gutters));
    order
}

/// A block between separators: column by column when its columns sit side by side,
/// otherwise simply top to bottom.
fn read_block(lines: &[FrameBox], block: Vec<usize>, gutters: &[f32]) -> Vec<usize> {
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); gutters.len() + 1];
    for &i in &block {
        let cx = lines[i].center_x();
        columns[gutters.iter().filter(|&&g| g < cx).count()].push(i);
    }
    columns.retain(|c| !c.is_empty());
    let extent = |c: &Vec<usize>| {
        let y0 = c.iter().map(|&i| lines[i].y0).fold(f32::MAX, f32::min);
        let y1 = c.iter().map(|&i| lines[i].y1).fold(f32::MIN, f32::max);
        (y0, y1)
    };
    let side_by_side = columns.windows(2).any(|pair| {
        let ((a0, a1), (b0, b1)) = (extent(&pair[0]), extent(&pair[1]));
        a1.min(b1) > a0.max(b0)
    });
    if !side_by_side {
        return rows_top_down(lines, block);
    }
    columns
        .into_iter()
        .flat_map(|c| rows_top_down(lines, c))
        .collect()
}

/// Top to bottom; lines that share a row (overlap vertically by half) go left to right.
fn rows_top_down(lines: &[FrameBox], mut ids: Vec<usize>) -> Vec<usize> {
    ids.sort_by(|&a, &b| lines[a].center_y().total_cmp(&lines[b].center_y()));
    let mut order = Vec::with_capacity(ids.len());
    let mut row: Vec<usize> = Vec::new();
    for i in ids {
        let joins = row.first().is_some_and(|&first| {
            let min_h = lines[first].height().min(lines[i].height()).max(1e-3);
            lines[first].vertical_overlap(&lines[i]) >= 0.5 * min_h
        });
        if !joins {
            row.sort_by(|&a, &b| lines[a].x0.total_cmp(&lines[b].x0));
            order.append(&mut row);
        }
        row.push(i);
    }
    row.sort_by(|&a, &b| lines[a].x0.total_cmp(&lines[b].x0));
    order.append(&mut row);
    order
}
