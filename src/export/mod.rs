//! Exporters: text, JSON, hOCR, PAGE-XML, ALTO (to be written).
