//! Command-line subcommands (to be written).

pub mod eval_cmd;
