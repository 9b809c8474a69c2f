//! Picks the Burn device (to be written).
