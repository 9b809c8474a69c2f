//! Command-line subcommands.

pub mod models_cmd;
