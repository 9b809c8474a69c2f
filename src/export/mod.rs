//! Exporters: a [`Reading`] as plain text, JSON, hOCR, PAGE-XML (2019) or ALTO v4.
//! Coordinates in the XML formats are whole page pixels; every text and attribute value
//! is escaped, and characters XML 1.0 forbids are dropped.

pub mod pdf;
mod xml;

use std::fmt::Write as _;

use crate::reading::{Line, Point, Reading};
pub use xml::escape;

/// An output format for a [`Reading`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The text, one line per line.
    #[default]
    Text,
    /// The Reading as JSON: lines with text, confidences, words, polygon and bbox.
    Json,
    /// hOCR (HTML with ocr_page / ocr_line / ocrx_word).
    Hocr,
    /// PAGE-XML, 2019-07-15 schema (Transkribus, eScriptorium).
    PageXml,
    /// ALTO v4 (eScriptorium, libraries).
    Alto,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown format {0:?}: expected text, json, hocr, page-xml or alto")]
pub struct UnknownFormat(pub String);

impl std::str::FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "text" | "txt" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            "hocr" => Ok(Self::Hocr),
            "page-xml" | "page" | "pagexml" => Ok(Self::PageXml),
            "alto" => Ok(Self::Alto),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

impl Format {
    /// The usual file extension for the format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Text => "txt",
            Self::Json => "json",
            Self::Hocr => "hocr",
            Self::PageXml | Self::Alto => "xml",
        }
    }
}

/// The reading in the chosen format.
pub fn export(reading: &Reading, format: Format) -> String {
    match format {
        Format::Text => {
            let mut text = reading.text();
            text.push('\n');
            text
        }
        Format::Json => serde_json::to_string_pretty(reading)
            .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string())),
        Format::Hocr => hocr(reading),
        Format::PageXml => page_xml(reading),
        Format::Alto => alto(reading),
    }
}

/// Several pages in one output: hOCR and ALTO as one multi-page document; the other formats
/// as each page's export in turn (PAGE-XML holds one page a file: see [`export`]).
pub fn export_pages(readings: &[Reading], format: Format) -> String {
    match format {
        Format::Hocr => hocr_document(readings),
        Format::Alto => alto_document(readings),
        other => readings.iter().map(|r| export(r, other)).collect(),
    }
}

fn int(v: f32) -> i64 {
    if v.is_finite() { v.round() as i64 } else { 0 }
}

/// Integer bbox `[x0, y0, x1, y1]`, clamped to the page.
fn int_bbox(line: &Line, reading: &Reading) -> [i64; 4] {
    let (w, h) = (reading.width as i64, reading.height as i64);
    let [x0, y0, x1, y1] = line.bbox.map(int);
    [
        x0.clamp(0, w),
        y0.clamp(0, h),
        x1.clamp(0, w),
        y1.clamp(0, h),
    ]
}

/// Points as `x,y x,y ...` in whole pixels.
fn points_attr(polygon: &[Point]) -> String {
    polygon
        .iter()
        .map(|p| format!("{},{}", int(p[0]).max(0), int(p[1]).max(0)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn lines_bbox(reading: &Reading) -> [i64; 4] {
    let boxes: Vec<[i64; 4]> = reading.lines.iter().map(|l| int_bbox(l, reading)).collect();
    if boxes.is_empty() {
        return [0, 0, reading.width as i64, reading.height as i64];
    }
    let mut b = boxes[0];
    for other in &boxes[1..] {
        b = [
            b[0].min(other[0]),
            b[1].min(other[1]),
            b[2].max(other[2]),
            b[3].max(other[3]),
        ];
    }
    b
}

fn hocr(reading: &Reading) -> String {
    hocr_document(std::slice::from_ref(reading))
}

/// One hOCR document with an `ocr_page` per reading, numbered from 1.
fn hocr_document(readings: &[Reading]) -> String {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n");
    out.push_str(
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n<head>\n",
    );
    out.push_str("<title></title>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"/>\n");
    let _ = writeln!(
        out,
        "<meta name=\"ocr-system\" content=\"inkread {}\"/>",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("<meta name=\"ocr-capabilities\" content=\"ocr_page ocr_carea ocr_line ocrx_word\"/>\n</head>\n<body>\n");
    for (i, reading) in readings.iter().enumerate() {
        hocr_page(&mut out, reading, i);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The page's `ocr_page`; ids of page `index` > 0 are prefixed so they stay unique.
fn hocr_page(out: &mut String, reading: &Reading, index: usize) {
    let e = escape;
    let p = if index == 0 {
        String::new()
    } else {
        format!("p{}_", index + 1)
    };
    let _ = writeln!(
        out,
        "<div class=\"ocr_page\" id=\"page_{}\" title=\"image &quot;{}&quot;; bbox 0 0 {} {}; ppageno {index}\">",
        index + 1,
        e(&reading.image.replace('"', "'")),
        reading.width,
        reading.height
    );
    let [bx0, by0, bx1, by1] = lines_bbox(reading);
    let _ = writeln!(
        out,
        "<div class=\"ocr_carea\" id=\"{p}block_1\" title=\"bbox {bx0} {by0} {bx1} {by1}\">"
    );
    for (i, line) in reading.lines.iter().enumerate() {
        let [x0, y0, x1, y1] = int_bbox(line, reading);
        let _ = write!(
            out,
            "<span class=\"ocr_line\" id=\"{p}line_{}\" title=\"bbox {x0} {y0} {x1} {y1}; x_wconf {}\">",
            i + 1,
            wconf(line.confidence)
        );
        // Words carry no geometry of their own (the recognizer reads whole lines), so they
        // get only their confidence; hOCR readers fall back to the line's box.
        for (j, word) in line.words.iter().enumerate() {
            if j > 0 {
                out.push(' ');
            }
            let _ = write!(
                out,
                "<span class=\"ocrx_word\" id=\"{p}word_{}_{}\" title=\"x_wconf {}\">{}</span>",
                i + 1,
                j + 1,
                wconf(word.confidence),
                e(&word.text)
            );
        }
        if line.words.is_empty() && !line.text.is_empty() {
            out.push_str(&e(&line.text));
        }
        out.push_str("</span>\n");
    }
    out.push_str("</div>\n</div>\n");
}

/// hOCR's x_wconf is a whole percentage.
fn wconf(confidence: f32) -> i64 {
    int(confidence.clamp(0.0, 1.0) * 100.0)
}

fn conf_attr(confidence: f32) -> String {
    let c = if confidence.is_finite() {
        confidence.clamp(0.0, 1.0)
    } else {
        0.0
    };
    format!("{c:.4}")
}

fn page_xml(reading: &Reading) -> String {
    let e = escape;
    let now = xml::utc_timestamp();
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<PcGts xmlns=\"http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15 http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15/pagecontent.xsd\">\n");
    let _ = writeln!(
        out,
        "  <Metadata>\n    <Creator>inkread {}</Creator>\n    <Created>{now}</Created>\n    <LastChange>{now}</LastChange>\n  </Metadata>",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "  <Page imageFilename=\"{}\" imageWidth=\"{}\" imageHeight=\"{}\">",
        e(&reading.image),
        reading.width,
        reading.height
    );
    if !reading.lines.is_empty() {
        out.push_str("    <ReadingOrder>\n      <OrderedGroup id=\"ro_1\">\n        <RegionRefIndexed index=\"0\" regionRef=\"region_1\"/>\n      </OrderedGroup>\n    </ReadingOrder>\n");
        let [x0, y0, x1, y1] = lines_bbox(reading);
        out.push_str("    <TextRegion id=\"region_1\" type=\"paragraph\">\n");
        let _ = writeln!(
            out,
            "      <Coords points=\"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}\"/>"
        );
        for (i, line) in reading.lines.iter().enumerate() {
            let _ = writeln!(
                out,
                "      <TextLine id=\"line_{}\" custom=\"readingOrder {{index:{i};}}\">\n        <Coords points=\"{}\"/>\n{}        <TextEquiv conf=\"{}\">\n          <Unicode>{}</Unicode>\n        </TextEquiv>\n      </TextLine>",
                i + 1,
                polygon_or_box(line, reading),
                line.baseline
                    .as_ref()
                    .map(|b| format!("        <Baseline points=\"{}\"/>\n", points_attr(b)))
                    .unwrap_or_default(),
                conf_attr(line.confidence),
                e(&line.text)
            );
        }
        let _ = writeln!(
            out,
            "      <TextEquiv>\n        <Unicode>{}</Unicode>\n      </TextEquiv>\n    </TextRegion>",
            e(&reading.text())
        );
    }
    out.push_str("  </Page>\n</PcGts>\n");
    out
}

/// The line's polygon as points; a degenerate one is replaced by its box.
fn polygon_or_box(line: &Line, reading: &Reading) -> String {
    if line.polygon.len() >= 3 {
        return points_attr(&line.polygon);
    }
    let [x0, y0, x1, y1] = int_bbox(line, reading);
    format!("{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}")
}

fn alto(reading: &Reading) -> String {
    alto_document(std::slice::from_ref(reading))
}

/// One ALTO document with a `Page` per reading; the source file named is the first page's.
fn alto_document(readings: &[Reading]) -> String {
    let e = escape;
    let Some(first) = readings.first() else {
        return String::new();
    };
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<alto xmlns=\"http://www.loc.gov/standards/alto/ns-v4#\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.loc.gov/standards/alto/ns-v4# http://www.loc.gov/standards/alto/v4/alto-4-2.xsd\">\n");
    let _ = writeln!(
        out,
        "  <Description>\n    <MeasurementUnit>pixel</MeasurementUnit>\n    <sourceImageInformation>\n      <fileName>{}</fileName>\n    </sourceImageInformation>\n    <Processing ID=\"proc_1\">\n      <processingDateTime>{}</processingDateTime>\n      <processingSoftware>\n        <softwareName>inkread</softwareName>\n        <softwareVersion>{}</softwareVersion>\n      </processingSoftware>\n    </Processing>\n  </Description>",
        e(&first.image),
        xml::utc_timestamp(),
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("  <Layout>\n");
    for (i, reading) in readings.iter().enumerate() {
        alto_page(&mut out, reading, i + 1);
    }
    out.push_str("  </Layout>\n</alto>\n");
    out
}

/// Page `number`; ids past the first page are prefixed so they stay unique.
fn alto_page(out: &mut String, reading: &Reading, number: usize) {
    let p = if number == 1 {
        String::new()
    } else {
        format!("p{number}_")
    };
    let _ = writeln!(
        out,
        "    <Page ID=\"page_{number}\" PHYSICAL_IMG_NR=\"{number}\" WIDTH=\"{w}\" HEIGHT=\"{h}\">\n      <PrintSpace HPOS=\"0\" VPOS=\"0\" WIDTH=\"{w}\" HEIGHT=\"{h}\">",
        w = reading.width,
        h = reading.height
    );
    if !reading.lines.is_empty() {
        let [x0, y0, x1, y1] = lines_bbox(reading);
        let _ = writeln!(
            out,
            "        <TextBlock ID=\"{p}block_1\" HPOS=\"{x0}\" VPOS=\"{y0}\" WIDTH=\"{}\" HEIGHT=\"{}\">",
            x1 - x0,
            y1 - y0
        );
        for (i, line) in reading.lines.iter().enumerate() {
            alto_line(out, reading, line, &format!("{p}line_{}", i + 1));
        }
        out.push_str("        </TextBlock>\n");
    }
    out.push_str("      </PrintSpace>\n    </Page>\n");
}

fn alto_line(out: &mut String, reading: &Reading, line: &Line, id: &str) {
    let [x0, y0, x1, y1] = int_bbox(line, reading);
    let _ = writeln!(
        out,
        "          <TextLine ID=\"{id}\" HPOS=\"{x0}\" VPOS=\"{y0}\" WIDTH=\"{}\" HEIGHT=\"{}\"{}>\n            <Shape><Polygon POINTS=\"{}\"/></Shape>",
        x1 - x0,
        y1 - y0,
        // ALTO 4 takes the baseline as a points list.
        line.baseline
            .as_ref()
            .map(|b| format!(" BASELINE=\"{}\"", points_attr(b)))
            .unwrap_or_default(),
        polygon_or_box(line, reading)
    );
    // Without word geometry, each String carries its text and confidence only (ALTO 4 makes
    // the position attributes optional); a line without words becomes one String.
    let words: Vec<(String, f32)> = if line.words.is_empty() {
        if line.text.is_empty() {
            Vec::new()
        } else {
            vec![(line.text.clone(), line.confidence)]
        }
    } else {
        line.words
            .iter()
            .map(|w| (w.text.clone(), w.confidence))
            .collect()
    };
    for (j, (text, confidence)) in words.iter().enumerate() {
        if j > 0 {
            out.push_str("            <SP/>\n");
        }
        let _ = writeln!(
            out,
            "            <String ID=\"{id}_w{}\" CONTENT=\"{}\" WC=\"{}\"/>",
            j + 1,
            escape(text),
            conf_attr(*confidence)
        );
    }
    out.push_str("          </TextLine>\n");
}
