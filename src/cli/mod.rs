//! Command-line subcommands (to be written).
