//! Writes lines as a training run sees them (grey, at the network's height, cropped from
//! their polygons) with a manifest `inkread train recognizer --data` reads back: to look at
//! what the network learns from, or to carry a compact copy of a data set to another machine
//! (a GPU box, say) where the pages themselves would be too big.

use std::io::Write;
use std::path::Path;

use super::TrainError;
use super::lines::load_lines;
use super::samples::Sample;
use crate::cancel::CancelToken;

/// Lines decoded at a time: bounds memory on data sets of any size.
const CHUNK: usize = 256;

/// Writes every `every`-th line of `train` and of `val` into `out` as `NNNNNN.png`, with
/// `manifest.tsv` (path, transcription, split). Returns how many lines were written.
pub fn export_lines(
    train: &[Sample],
    val: &[Sample],
    every: usize,
    out: &Path,
    cancel: &CancelToken,
) -> Result<usize, TrainError> {
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let manifest_path = out.join("manifest.tsv");
    let mut manifest = String::from("path\ttranscription\tsplit\n");
    let mut written = 0;
    for (split, samples) in [("train", train), ("val", val)] {
        let kept: Vec<Sample> = samples.iter().step_by(every.max(1)).cloned().collect();
        for chunk in kept.chunks(CHUNK) {
            for (line, sample) in load_lines(chunk, false, cancel, &mut |_| {})?
                .iter()
                .zip(chunk)
            {
                let name = format!("{written:06}.png");
                let path = out.join(&name);
                line.save(&path)
                    .map_err(|source| TrainError::WriteImage { path, source })?;
                manifest.push_str(&format!("{name}\t{}\t{split}\n", sample.text));
                written += 1;
            }
        }
    }
    std::fs::File::create(&manifest_path)
        .and_then(|mut f| f.write_all(manifest.as_bytes()))
        .map_err(|e| TrainError::io(&manifest_path, e))?;
    Ok(written)
}
