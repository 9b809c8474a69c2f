//! Kraken's segmenter as a [`Detector`]: prepare the page as kraken does, run the network,
//! turn its heatmaps into baselines and line polygons, and scale them back to the page.

use std::path::Path;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

use super::baselines::{BaselineParams, vectorize_lines};
use super::features::seam_energy;
use super::heatmap::{Map, upsample_sigmoid};
use super::order::reading_order;
use super::polygon::{PolygonParams, line_polygons};
use super::prepare::{input_size, to_inverted_planes};
use super::regions::vectorize_regions;
use super::resize::resize_lanczos_pil;
use crate::cancel::CancelToken;
use crate::models::kraken::{KrakenModel, load_segmenter};
use crate::nn::into_f32_vec;
use crate::nn::kraken::SegNet;
use crate::pipeline::Detector;
use crate::pipeline::lines::LineGeometry;
use crate::reading::{Point, Region};
use crate::{Error, Result};

/// One line found on a page, in page pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct BllaLine {
    /// From the start of the line to its end.
    pub baseline: Vec<Point>,
    /// The outline around it.
    pub polygon: Vec<Point>,
    /// The baseline class (kraken's `default` for blla).
    pub class: String,
    /// Mean baseline probability along the baseline.
    pub score: f32,
}

/// The heatmaps of one page, at the scaled input's size.
pub struct PageMaps {
    pub maps: Vec<Map>,
    /// The page as the network saw it (scaled, RGB), for the polygonizer's energy.
    pub scaled: RgbImage,
    /// Page pixels per map pixel, `[x, y]`.
    pub scale: [f32; 2],
}

/// Seconds spent in each stage of the last [`BllaDetector::lines`] call, for benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimes {
    /// Scaling and preparing the page, and the network.
    pub network: f64,
    /// Heatmaps to baselines.
    pub baselines: f64,
    /// Baselines to polygons.
    pub polygons: f64,
}

/// A kraken segmentation model (blla or another) ready to run.
pub struct BllaDetector {
    net: SegNet,
    model: KrakenModel,
    device: Device,
    name: String,
    pub baselines: BaselineParams,
    pub polygons: PolygonParams,
    /// Where the last page's time went.
    pub last_times: StageTimes,
}

impl BllaDetector {
    /// Loads a kraken segmentation `.mlmodel`.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let (net, model) = load_segmenter(path, device)
            .map_err(|e| Error::model_because(path.display().to_string(), e))?;
        for (what, map) in [
            ("aux", &model.meta.class_mapping.aux),
            ("baselines", &model.meta.class_mapping.baselines),
        ] {
            if let Some((name, &i)) = map.iter().find(|(_, i)| **i >= net.outputs) {
                return Err(Error::Model(format!(
                    "{}: class {what}/{name} is output {i}, the network has {}",
                    path.display(),
                    net.outputs
                )));
            }
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("kraken")
            .to_string();
        Ok(Self {
            net,
            model,
            device: device.clone(),
            name,
            baselines: BaselineParams::default(),
            polygons: PolygonParams::default(),
            last_times: StageTimes::default(),
        })
    }

    /// The rows a page of `page_height` is scaled to for the network (blla: 1800; a model
    /// of variable height takes the page as it is).
    pub fn input_height(&self, page_height: u32) -> u32 {
        match self.model.spec.height {
            0 => page_height,
            h => h as u32,
        }
    }

    /// The network's heatmaps for a page (sigmoid, upsampled to the scaled input's size).
    pub fn page_maps(&self, page: &RgbImage, cancel: &CancelToken) -> Result<PageMaps> {
        let (pw, ph) = page.dimensions();
        if pw == 0 || ph == 0 {
            return Err(Error::Other("the page is empty".into()));
        }
        let (w, h) = input_size(pw, ph, self.input_height(ph));
        let scaled = resize_lanczos_pil(page, w, h);
        let input = to_inverted_planes(&scaled);
        let x = Tensor::<4>::from_data(
            TensorData::new(input.data, [1, 3, input.height, input.width]),
            &self.device,
        );
        let out = self.net.forward(x, cancel)?;
        let [_, c, oh, ow] = out.dims();
        let logits = into_f32_vec(out)?;
        let maps = upsample_sigmoid(&logits, [c, oh, ow], w as usize, h as usize);
        Ok(PageMaps {
            maps,
            scaled,
            scale: [pw as f32 / w as f32, ph as f32 / h as f32],
        })
    }

    /// The page's lines in reading order: baselines and polygons, in page pixels.
    pub fn lines(&mut self, page: &RgbImage, cancel: &CancelToken) -> Result<Vec<BllaLine>> {
        cancel.check()?;
        let started = Instant::now();
        let pm = self.page_maps(page, cancel)?;
        self.last_times.network = started.elapsed().as_secs_f64();
        cancel.check()?;
        let started = Instant::now();
        let aux = &self.model.meta.class_mapping.aux;
        let (Some(&st), Some(&end)) = (aux.get("_start_separator"), aux.get("_end_separator"))
        else {
            return Err(Error::Model(format!(
                "{}: the model has no line start/end maps",
                self.name
            )));
        };
        let mut found: Vec<(String, Vec<Point>)> = Vec::new();
        for (class, &idx) in &self.model.meta.class_mapping.baselines {
            for bl in vectorize_lines(&pm.maps[st], &pm.maps[end], &pm.maps[idx], &self.baselines) {
                found.push((class.clone(), bl));
            }
            cancel.check()?;
        }
        self.last_times.baselines = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let energy = seam_energy(&pm.scaled);
        let baselines: Vec<Vec<Point>> = found.iter().map(|(_, b)| b.clone()).collect();
        let regions: Vec<Vec<Point>> = (self.model.meta.class_mapping.regions.values())
            .filter_map(|&i| pm.maps.get(i))
            .flat_map(vectorize_regions)
            .collect();
        let polygons = line_polygons(&baselines, &regions, &energy, &self.polygons);
        self.last_times.polygons = started.elapsed().as_secs_f64();
        let [sx, sy] = pm.scale;
        // kraken scales back and truncates to whole pixels.
        let to_page = |p: &Point| [(p[0] * sx).trunc(), (p[1] * sy).trunc()];
        let mut kept = Vec::new();
        for ((class, bl), poly) in found.into_iter().zip(polygons) {
            let Some(poly) = poly else { continue };
            let idx = self.model.meta.class_mapping.baselines[&class];
            kept.push(BllaLine {
                score: mean_along(&pm.maps[idx], &bl),
                baseline: bl.iter().map(to_page).collect(),
                polygon: poly.iter().map(to_page).collect(),
                class,
            });
        }
        // kraken's order is partial and its cycles are broken by the order lines come in; it
        // finds them in an order we do not reproduce, so give them left to right (fewest
        // lines read before the line above them, on the pages tried).
        kept.sort_by(|a, b| a.baseline[0][0].total_cmp(&b.baseline[0][0]));
        let order = reading_order(&kept.iter().map(|l| l.baseline.clone()).collect::<Vec<_>>());
        let mut slots: Vec<Option<BllaLine>> = kept.into_iter().map(Some).collect();
        Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
    }
}

/// The mean of `map` at the baseline's vertices.
fn mean_along(map: &Map, bl: &[Point]) -> f32 {
    if bl.is_empty() {
        return 0.0;
    }
    let at = |p: &Point| {
        let x = (p[0].max(0.0) as usize).min(map.width - 1);
        let y = (p[1].max(0.0) as usize).min(map.height - 1);
        map.at(x, y)
    };
    bl.iter().map(at).sum::<f32>() / bl.len() as f32
}

impl Detector for BllaDetector {
    fn name(&self) -> &str {
        &self.name
    }

    /// Whole lines in reading order, with baselines: the pipeline keeps them as they are.
    fn detect_lines(
        &mut self,
        page: &RgbImage,
        cancel: &CancelToken,
    ) -> Result<Option<Vec<LineGeometry>>> {
        let found = self.lines(page, cancel)?.into_iter().map(|l| LineGeometry {
            polygon: l.polygon,
            baseline: Some(l.baseline),
        });
        Ok(Some(found.collect()))
    }

    fn detect(&mut self, page: &RgbImage, cancel: &CancelToken) -> Result<Vec<Region>> {
        Ok(self
            .lines(page, cancel)?
            .into_iter()
            .map(|l| Region {
                polygon: l.polygon,
                score: l.score,
            })
            .collect())
    }
}
