//! (trocr networks: to be written)
