//! Thinning of a binary mask to one-pixel-wide lines (Zhang and Suen's two-subiteration
//! algorithm, the one scikit-image's `skeletonize` documents), and the skeleton's endpoints.

/// A binary mask, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    pub width: usize,
    pub height: usize,
    pub data: Vec<bool>,
}

impl Mask {
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![false; width * height],
        }
    }

    pub fn get(&self, x: isize, y: isize) -> bool {
        x >= 0
            && y >= 0
            && (x as usize) < self.width
            && (y as usize) < self.height
            && self.data[y as usize * self.width + x as usize]
    }

    /// The 8 neighbours clockwise from north: P2..P9 in Zhang and Suen's naming.
    fn neighbours(&self, x: usize, y: usize) -> [bool; 8] {
        let (x, y) = (x as isize, y as isize);
        [
            self.get(x, y - 1),
            self.get(x + 1, y - 1),
            self.get(x + 1, y),
            self.get(x + 1, y + 1),
            self.get(x, y + 1),
            self.get(x - 1, y + 1),
            self.get(x - 1, y),
            self.get(x - 1, y - 1),
        ]
    }
}

/// Thins `mask` until no pixel can be removed without breaking connectivity.
pub fn skeletonize(mask: &Mask) -> Mask {
    let mut m = mask.clone();
    let mut remove = Vec::new();
    loop {
        let mut changed = false;
        for pass in 0..2 {
            remove.clear();
            for y in 0..m.height {
                for x in 0..m.width {
                    if !m.data[y * m.width + x] {
                        continue;
                    }
                    let p = m.neighbours(x, y);
                    let count = p.iter().filter(|&&b| b).count();
                    if !(2..=6).contains(&count) {
                        continue;
                    }
                    // Number of false→true transitions around the ring.
                    let transitions = (0..8).filter(|&i| !p[i] && p[(i + 1) % 8]).count();
                    if transitions != 1 {
                        continue;
                    }
                    let [p2, _, p4, _, p6, _, p8, _] = p;
                    // Pass 1 keeps P2·P4·P6 or P4·P6·P8 set; pass 2 P2·P4·P8 or P2·P6·P8.
                    let keep = if pass == 0 {
                        p4 && p6 && (p2 || p8)
                    } else {
                        p2 && p8 && (p4 || p6)
                    };
                    if !keep {
                        remove.push(y * m.width + x);
                    }
                }
            }
            changed |= !remove.is_empty();
            for &i in &remove {
                m.data[i] = false;
            }
        }
        if !changed {
            return m;
        }
    }
}

/// Skeleton pixels with exactly one 8-neighbour (kraken: a 3x3 kernel sum of 11).
pub fn endpoints(skel: &Mask) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for y in 0..skel.height {
        for x in 0..skel.width {
            if skel.data[y * skel.width + x]
                && skel.neighbours(x, y).iter().filter(|&&b| b).count() == 1
            {
                out.push((x, y));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thick_bar_thins_to_a_line_with_two_ends() {
        let mut m = Mask::new(30, 9);
        for y in 2..7 {
            for x in 3..27 {
                m.data[y * 30 + x] = true;
            }
        }
        let s = skeletonize(&m);
        for x in 6..24 {
            let column: usize = (0..9).filter(|&y| s.data[y * 30 + x]).count();
            assert_eq!(column, 1, "column {x}");
        }
        assert_eq!(endpoints(&s).len(), 2);
    }
}
