//! Training lines from transcribed pages as eScriptorium, Transkribus and kraken export them:
//! PAGE-XML (`TextLine/Coords@points`, `TextLine/TextEquiv/Unicode`) and ALTO
//! (`TextLine/Shape/Polygon@POINTS` or its box, the `String@CONTENT` words). Each line is
//! cropped from its page at training time the way the pipeline crops detected lines.

use std::path::{Path, PathBuf};

use roxmltree::{Document, Node};

use super::TrainError;
use super::samples::Sample;
use crate::eval::metrics::normalize;
use crate::reading::Point;

/// Whether `path` looks like a page transcription rather than a manifest.
pub fn is_page_xml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
}

/// The transcribed lines of one PAGE-XML or ALTO file; lines without text are skipped.
pub fn read_page_xml(path: &Path) -> Result<Vec<Sample>, TrainError> {
    let bad = |detail: String| TrainError::BadSamples {
        count: 1,
        first: vec![format!("{}: {detail}", path.display())],
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let doc = Document::parse(&text).map_err(|e| bad(format!("not XML: {e}")))?;
    let root = doc.root_element();
    let (image_name, lines) = match root.tag_name().name() {
        "PcGts" => page_lines(root),
        "alto" => alto_lines(root),
        other => return Err(bad(format!("<{other}> is neither PAGE-XML nor ALTO"))),
    };
    let image = page_image(path, image_name.as_deref())
        .ok_or_else(|| bad("its page image is not beside it".into()))?;
    Ok(lines
        .into_iter()
        .enumerate()
        .filter(|(_, (_, text))| !text.is_empty())
        .map(|(i, (polygon, text))| Sample {
            image: image.clone(),
            text,
            origin: format!("{} line {}", path.display(), i + 1),
            polygon: Some(polygon),
            lang: None,
        })
        .collect())
}

type XmlLine = (Vec<Point>, String);

fn named<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.descendants()
        .filter(move |n| n.tag_name().name() == name)
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| n.tag_name().name() == name)
}

fn page_lines(root: Node) -> (Option<String>, Vec<XmlLine>) {
    let image = named(root, "Page")
        .next()
        .and_then(|p| p.attribute("imageFilename"))
        .map(str::to_string);
    let lines = named(root, "TextLine")
        .filter_map(|line| {
            let points = child(line, "Coords")?.attribute("points")?;
            let polygon = parse_points(points.split_whitespace().map(|p| p.replace(',', " ")));
            // The line's own TextEquiv (not its words'); the first Unicode in it.
            let text = child(line, "TextEquiv")
                .and_then(|t| child(t, "Unicode"))
                .and_then(|u| u.text())
                .unwrap_or_default();
            Some((polygon, normalize(text)))
        })
        .collect();
    (image, lines)
}

fn alto_lines(root: Node) -> (Option<String>, Vec<XmlLine>) {
    let image = named(root, "fileName")
        .next()
        .and_then(|n| n.text())
        .map(str::to_string);
    let lines = named(root, "TextLine")
        .filter_map(|line| {
            let polygon = match child(line, "Shape").and_then(|s| child(s, "Polygon")) {
                Some(p) => {
                    let numbers: Vec<&str> = p.attribute("POINTS")?.split([' ', ',']).collect();
                    parse_points(numbers.chunks(2).map(|xy| xy.join(" ")))
                }
                None => box_polygon(line)?,
            };
            let words: Vec<&str> = named(line, "String")
                .filter_map(|s| s.attribute("CONTENT"))
                .collect();
            Some((polygon, normalize(&words.join(" "))))
        })
        .collect();
    (image, lines)
}

/// `"x y"` pairs as points (pairs that do not parse are dropped).
fn parse_points(pairs: impl Iterator<Item = String>) -> Vec<Point> {
    pairs
        .filter_map(|pair| {
            let mut it = pair.split_whitespace().map(str::parse::<f32>);
            Some([it.next()?.ok()?, it.next()?.ok()?])
        })
        .collect()
}

fn box_polygon(line: Node) -> Option<Vec<Point>> {
    let get = |name| line.attribute(name)?.parse::<f32>().ok();
    let (x, y, w, h) = (get("HPOS")?, get("VPOS")?, get("WIDTH")?, get("HEIGHT")?);
    Some(vec![[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
}

/// The page image: the file the XML names (beside it, or by its bare name), else an image
/// with the XML's own stem.
fn page_image(xml: &Path, named: Option<&str>) -> Option<PathBuf> {
    let dir = xml.parent().unwrap_or(Path::new("."));
    let mut candidates = Vec::new();
    if let Some(name) = named {
        candidates.push(dir.join(name));
        if let Some(file) = Path::new(name).file_name() {
            candidates.push(dir.join(file));
        }
    }
    for ext in ["png", "jpg", "jpeg", "tif", "tiff", "webp"] {
        candidates.push(xml.with_extension(ext));
    }
    candidates.into_iter().find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">
  <Page imageFilename="scans/p1.png" imageWidth="100" imageHeight="50">
    <TextRegion id="r1"><Coords points="0,0 100,0 100,50 0,50"/>
      <TextLine id="l1"><Coords points="10,10 90,10 90,20 10,20"/>
        <Word><Coords points="10,10 40,10 40,20 10,20"/><TextEquiv><Unicode>Mon</Unicode></TextEquiv></Word>
        <TextEquiv><Unicode>Mon  cher ami</Unicode></TextEquiv></TextLine>
      <TextLine id="l2"><Coords points="10,30 90,30 90,40 10,40"/><TextEquiv><Unicode></Unicode></TextEquiv></TextLine>
    </TextRegion>
  </Page>
</PcGts>"#;

    const ALTO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
  <Description><sourceImageInformation><fileName>p1.png</fileName></sourceImageInformation></Description>
  <Layout><Page><PrintSpace><TextBlock>
    <TextLine HPOS="10" VPOS="10" WIDTH="80" HEIGHT="10">
      <Shape><Polygon POINTS="10 10 90 10 90 20 10 20"/></Shape>
      <String CONTENT="Mon"/><SP/><String CONTENT="ami"/></TextLine>
    <TextLine HPOS="10" VPOS="30" WIDTH="80" HEIGHT="10"><String CONTENT="box"/></TextLine>
  </TextBlock></PrintSpace></Page></Layout>
</alto>"#;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        path
    }

    #[test]
    fn page_xml_lines_with_their_own_text_and_the_named_image() {
        let dir = tempfile::tempdir().unwrap();
        let image = write(dir.path(), "scans/p1.png", "");
        let lines = read_page_xml(&write(dir.path(), "p1.xml", PAGE)).unwrap();
        assert_eq!(lines.len(), 1, "the empty line is skipped");
        assert_eq!(lines[0].text, "Mon cher ami");
        assert_eq!(lines[0].image, image);
        assert_eq!(lines[0].polygon.as_deref().unwrap()[2], [90.0, 20.0]);
    }

    #[test]
    fn alto_lines_from_polygons_or_boxes() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p1.png", "");
        let lines = read_page_xml(&write(dir.path(), "page.xml", ALTO)).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["Mon ami", "box"]);
        assert_eq!(lines[1].polygon.as_deref().unwrap()[2], [90.0, 40.0]);
    }

    #[test]
    fn a_page_without_its_image_or_not_xml_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_page_xml(&write(dir.path(), "p1.xml", PAGE))
            .unwrap_err()
            .to_string();
        assert!(err.contains("page image"), "{err}");
        let err = read_page_xml(&write(dir.path(), "bad.xml", "<html>"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not XML"), "{err}");
    }
}
