//! (paddle networks: to be written)
