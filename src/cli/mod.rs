//! The command line: `inkread` alone opens the app; `read`, `bench` (and, from their own
//! modules, `models` and `eval`) do one job each and exit.
//!
//! Every failure reaches [`main`] as an error and leaves as one line on stderr with a
//! non-zero exit code.

pub mod bench;
mod bench_conv;
mod bench_pages;
pub mod eval_cmd;
pub mod models_cmd;
pub mod read;
pub mod train_cmd;
mod train_lm;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "inkread",
    version,
    about = "Reads handwriting and print on your own machine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Images to open in the app (with no command).
    #[arg(value_name = "IMAGE")]
    pub images: Vec<std::path::PathBuf>,
    /// CPU threads the networks may use (default: RAYON_NUM_THREADS, else every core).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find the text lines in images (or read line images whole) and print their text.
    Read(read::ReadArgs),
    /// Time a network with random weights.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// List, install, import or remove models.
    Models(models_cmd::ModelsArgs),
    /// Score a detector and recognizer on a manifest of real documents (CER, WER, F1).
    Eval(eval_cmd::EvalArgs),
    /// Train a recognizer on your own transcribed lines.
    #[command(subcommand)]
    Train(train_cmd::TrainCommand),
}

/// Parses the command line, runs it, and turns any error into one line on stderr.
pub fn main() -> ExitCode {
    die_quietly_on_a_closed_pipe();
    give_wayland_a_runtime_dir();
    keep_matrixmultiply_on_one_thread();
    crate::memory::keep_freed_memory();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inkread: {}", one_line(&describe(&e)));
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so `println!` into a pipe whose reader is gone (`inkread models
/// list | head -3`) panics. The default action ends the process silently instead, as
/// `ls | head` does.
fn die_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Probing for GPUs lets wgpu try a Wayland connection, and libwayland prints an error line
/// whenever `XDG_RUNTIME_DIR` is unset (headless servers, CI). A private empty directory
/// keeps that probe quiet; it changes nothing where a session already set the variable.
fn give_wayland_a_runtime_dir() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    let user = std::env::var("USER").unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("inkread-runtime-{user}"));
    if std::fs::create_dir_all(&dir).is_ok() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        // SAFETY: called first thing in `main`, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

/// `nn::host_linear` splits its products over rayon's threads and runs each piece with
/// `matrixmultiply`, whose own thread pool (its `threading` feature, which Burn's NdArray
/// turns on) would spread every piece over all the cores again: TrOCR-small's encoder was
/// about 6 % slower so (docs/BENCH.md). The crate reads this variable once, at its first
/// product; a value the user set is kept.
fn keep_matrixmultiply_on_one_thread() {
    if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
        // SAFETY: called first thing in `main`, before any other thread exists.
        unsafe { std::env::set_var("MATMUL_NUM_THREADS", "1") };
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(threads) = cli.threads {
        use_threads(threads.into())?;
    }
    match cli.command {
        None => open_app(cli.images),
        Some(Command::Read(args)) => read::run(&args),
        Some(Command::Bench(cmd)) => bench::run(&cmd),
        Some(Command::Models(args)) => models_cmd::run(&args),
        Some(Command::Eval(args)) => eval_with_models(args),
        Some(Command::Train(cmd)) => train_cmd::run(&cmd),
    }
}

/// Sizes the thread pool Burn's CPU backends (and the image crates) run their work on.
/// It must happen before anything uses the pool, so first thing in [`run`].
fn use_threads(threads: usize) -> anyhow::Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| anyhow::anyhow!("cannot use {threads} threads: {e}"))
}

/// Opens the desktop app on the best device, with the catalog's models and `images` queued.
fn open_app(images: Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    // A mistyped command would otherwise open the window with a bogus "image".
    if let Some(missing) = images.iter().find(|p| !p.exists()) {
        anyhow::bail!(
            "{} is neither a file nor a command (commands: read, models, eval, train, bench)",
            missing.display()
        );
    }
    let selected = crate::device::select(crate::device::DeviceChoice::Auto)?;
    let installer = crate::models::Installer::from_env()?;
    let factory = crate::app::catalog_factory::CatalogFactory::new(
        installer,
        selected.device,
        selected.description,
    );
    crate::app::run_opening(Box::new(factory), images)
}

/// `inkread eval`: pipelines built from catalog ids on the best device.
fn eval_with_models(args: eval_cmd::EvalArgs) -> anyhow::Result<()> {
    let selected = crate::device::select(args.device)?;
    eprintln!("inkread: evaluating on {}", selected.description);
    let installer = crate::models::Installer::from_env()?;
    let builder = crate::pipeline::build::PipelineBuilder {
        installer: &installer,
        device: selected.device,
        trocr: Default::default(),
    };
    eval_cmd::run(args, |detector, recognizer| {
        let detector = (detector != eval_cmd::NO_DETECTOR).then_some(detector);
        Ok(builder.build(detector, recognizer, &mut |_| {})?)
    })
}

/// The error and its causes joined with ": ", skipping a cause whose text the message
/// already carries (our error types print their source themselves).
fn describe(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

/// Errors from libraries sometimes span lines; the user gets one.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
