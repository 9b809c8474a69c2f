//! Output buffers for kernels that write every value of them, handed out without a zeroing
//! pass: `vec![0.0; n]` for each product's output was 4.5 % of trocr-small's encoder
//! (`memset`, docs/BENCH.md), values the kernel then overwrote.

use std::mem::MaybeUninit;

/// `len` values not yet written.
pub(super) fn buffer(len: usize) -> Vec<MaybeUninit<f32>> {
    let mut values = Vec::with_capacity(len);
    // SAFETY: `MaybeUninit` needs no initialisation, and the capacity is `len`.
    unsafe { values.set_len(len) };
    values
}

/// The values of `buffer`, every one of them written.
///
/// # Safety
/// Every value of `buffer` has been written.
pub(super) unsafe fn into_values(buffer: Vec<MaybeUninit<f32>>) -> Vec<f32> {
    let mut buffer = std::mem::ManuallyDrop::new(buffer);
    let (pointer, len, capacity) = (buffer.as_mut_ptr(), buffer.len(), buffer.capacity());
    // SAFETY: `MaybeUninit<f32>` has `f32`'s size and alignment; the allocation is handed
    // over whole (the `ManuallyDrop` keeps it from being freed twice); the caller
    // guarantees every value is written.
    unsafe { Vec::from_raw_parts(pointer.cast::<f32>(), len, capacity) }
}

/// `values` as written values.
///
/// # Safety
/// Every value of `values` has been written.
pub(super) unsafe fn as_values(values: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: same layout; the caller guarantees every value is written.
    unsafe { &mut *(values as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// `values` with every value set to `value`.
pub(super) fn filled(values: &mut [MaybeUninit<f32>], value: f32) -> &mut [f32] {
    for v in values.iter_mut() {
        v.write(value);
    }
    // SAFETY: every value written just above.
    unsafe { as_values(values) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_buffers_keep_their_values() {
        let mut values = buffer(1000);
        assert_eq!(values.len(), 1000);
        for (i, v) in values.iter_mut().enumerate() {
            v.write(i as f32);
        }
        // SAFETY: all 1000 written just above.
        let slice = unsafe { as_values(&mut values[10..20]) };
        slice[0] = -1.0;
        // SAFETY: as above.
        let values = unsafe { into_values(values) };
        assert_eq!(values[10], -1.0);
        assert_eq!(values[999], 999.0);
        assert_eq!(values.len(), 1000);
    }
}
