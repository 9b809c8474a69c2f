// Links the system's OpenBLAS for the cblas_sgemm row.
fn main() {
    println!("cargo:rustc-link-lib=openblas");
}
