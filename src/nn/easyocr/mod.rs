//! (easyocr networks: to be written)
