//! GMAC/s of one f32 matrix product C = A·B (row-major) on 2 threads, best of 3 after a
//! warm-up, in each kernel, over shapes from Inkread's networks: a square reference, a 3 × 3
//! convolution as a product (256 → 256 channels, 20 000 pixels), a thin first layer, and
//! TrOCR-small's attention and MLP products (577 tokens).
use std::time::Instant;

fn time(name: &str, (m, n, k): (usize, usize, usize), product: &mut dyn FnMut()) {
    product();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        product();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let gmac = (m * n * k) as f64 / best / 1e9;
    println!("{name:>14} m={m:<5} n={n:<6} k={k:<5} {gmac:6.1} GMAC/s");
}

fn main() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .expect("a rayon pool");
    let shapes = [
        (1024, 1024, 1024),
        (256, 20000, 2304),
        (64, 60000, 576),
        (577, 384, 384),
        (577, 1536, 384),
        (4608, 256, 256),
    ];
    for shape @ (m, n, k) in shapes {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0f32; m * n];
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        // SAFETY (all three): the buffers hold m·k, k·n and m·n floats, row-major.
        time("gemm", shape, &mut || unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c,
                1,
                n as isize,
                false,
                a,
                1,
                k as isize,
                b,
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(2),
            );
        });
        time("matrixmultiply", shape, &mut || unsafe {
            matrixmultiply::sgemm(
                m, k, n, 1.0, a, k as isize, 1, b, n as isize, 1, 0.0, c, n as isize, 1,
            );
        });
        time("openblas", shape, &mut || unsafe {
            use cblas_sys::{CBLAS_LAYOUT::CblasRowMajor, CBLAS_TRANSPOSE::CblasNoTrans};
            cblas_sys::cblas_sgemm(
                CblasRowMajor,
                CblasNoTrans,
                CblasNoTrans,
                m as i32,
                n as i32,
                k as i32,
                1.0,
                a,
                k as i32,
                b,
                n as i32,
                0.0,
                c,
                n as i32,
            );
        });
    }
}
