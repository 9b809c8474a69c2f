//! The `inkread` binary: all of it lives in [`inkread::cli`].

fn main() -> std::process::ExitCode {
    inkread::cli::main()
}
