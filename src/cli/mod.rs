//! Command-line subcommands.

pub mod eval_cmd;
pub mod models_cmd;
