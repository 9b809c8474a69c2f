//! The desktop app (to be written).
