//! The command line: `inkread` alone opens the app; `read`, `bench` (and, from their own
//! modules, `models` and `eval`) do one job each and exit.
//!
//! Every failure reaches [`main`] as an error and leaves as one line on stderr with a
//! non-zero exit code.

pub mod bench;
pub mod read;

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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read text-line images with a TrOCR model and print their text.
    Read(read::ReadArgs),
    /// Time a network with random weights.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    // `models` (install, list, remove) and `eval` are added here by their modules, each as
    // `Models(crate::models::cli::ModelsArgs)` / `Eval(crate::eval::EvalArgs)` with a
    // matching arm in `run`.
}

/// Parses the command line, runs it, and turns any error into one line on stderr.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inkread: {}", one_line(&describe(&e)));
            ExitCode::FAILURE
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => open_app(),
        Some(Command::Read(args)) => read::run(&args),
        Some(Command::Bench(cmd)) => bench::run(&cmd),
    }
}

/// Opens the desktop app. The app lives in `crate::app` (written apart); until it lands
/// this says so instead of doing nothing.
fn open_app() -> anyhow::Result<()> {
    // Replace with `crate::app::run()` once the app module provides it.
    anyhow::bail!("the desktop app is not part of this build yet; try `inkread read --help`")
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
