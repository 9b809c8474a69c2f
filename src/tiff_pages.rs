//! The pages of a multi-page TIFF, for the loader in [`crate::image_file`].
//!
//! The image decoder reads a TIFF's first page only. A TIFF names its first page's directory
//! (IFD) in its header and each directory names the next, so page `k` is the same file with
//! the header pointing at the `k`th directory: the decoder then reads that page with all its
//! colour types and compressions, exactly as it reads a first page.

/// More pages than this are not read (a loop in a broken file ends here too).
pub const MAX_PAGES: usize = 2_000;

/// The offsets of every page's directory, in order; empty when `bytes` is not a classic
/// (32-bit offset) TIFF. BigTIFF files are read as one page.
pub fn directory_offsets(bytes: &[u8]) -> Vec<u32> {
    let Some(order) = byte_order(bytes) else {
        return Vec::new();
    };
    let mut offsets = Vec::new();
    let mut next = read_u32(bytes, 4, order);
    while let Some(offset) = next.filter(|&o| o != 0) {
        if offsets.len() >= MAX_PAGES || offsets.contains(&offset) {
            break;
        }
        let Some(count) = read_u16(bytes, offset as usize, order) else {
            break;
        };
        offsets.push(offset);
        next = read_u32(bytes, offset as usize + 2 + usize::from(count) * 12, order);
    }
    offsets
}

/// The file with its header pointing at the directory at `offset`.
pub fn page_file(bytes: &[u8], offset: u32) -> Vec<u8> {
    let mut page = bytes.to_vec();
    if let Some(order) = byte_order(bytes) {
        let value = match order {
            Order::Little => offset.to_le_bytes(),
            Order::Big => offset.to_be_bytes(),
        };
        page[4..8].copy_from_slice(&value);
    }
    page
}

#[derive(Clone, Copy)]
enum Order {
    Little,
    Big,
}

fn byte_order(bytes: &[u8]) -> Option<Order> {
    match bytes.get(..4)? {
        b"II*\0" => Some(Order::Little),
        b"MM\0*" => Some(Order::Big),
        _ => None,
    }
}

fn read_u16(bytes: &[u8], at: usize, order: Order) -> Option<u16> {
    let b: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(match order {
        Order::Little => u16::from_le_bytes(b),
        Order::Big => u16::from_be_bytes(b),
    })
}

fn read_u32(bytes: &[u8], at: usize, order: Order) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(match order {
        Order::Little => u32::from_le_bytes(b),
        Order::Big => u32::from_be_bytes(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_tiff_has_no_pages_and_a_loop_ends() {
        assert!(directory_offsets(b"\x89PNG....").is_empty());
        assert!(directory_offsets(b"II*").is_empty());
        // One directory with no entries whose "next" points back at itself.
        let mut looped = b"II*\0\x08\0\0\0".to_vec();
        looped.extend_from_slice(&[0, 0, 8, 0, 0, 0]);
        assert_eq!(directory_offsets(&looped), vec![8]);
        // A directory past the end of the file is no page.
        assert!(directory_offsets(b"II*\0\xff\0\0\0").is_empty());
    }
}
