pub mod config;
pub mod weights;
