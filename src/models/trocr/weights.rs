//! Loading a TrOCR checkpoint (`model.safetensors`, else `pytorch_model.bin`) by its Hugging
//! Face tensor names. Every tensor the network needs must be present with the right shape and
//! every tensor in the file must be used: anything else is a [`WeightsError`] naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::store::{ModuleStore, PytorchStore, SafetensorsStore, bridge};
use burn::tensor::{Device, Tensor, TensorData};

use super::config::TrocrModelDir;
use crate::nn::trocr::TrocrModel;
use crate::nn::trocr::params::{Init, ParamSource};

type PackTensor = burn::store::burn_pack::Tensor;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("no model.safetensors or pytorch_model.bin in {0}")]
    NoCheckpoint(PathBuf),
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: tensor {name} is missing")]
    Missing { path: PathBuf, name: String },
    #[error("{path}: tensor {name} has shape {found:?}, expected {expected:?}")]
    Shape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{path}: tensor {name} cannot be read as f32: {message}")]
    Data {
        path: PathBuf,
        name: String,
        message: String,
    },
    #[error("{path}: unexpected tensor(s) {}", names.join(", "))]
    Unexpected { path: PathBuf, names: Vec<String> },
}

/// The checkpoint file a model directory provides, safetensors first.
pub fn checkpoint_path(dir: &Path) -> Result<PathBuf, WeightsError> {
    ["model.safetensors", "pytorch_model.bin"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| WeightsError::NoCheckpoint(dir.to_path_buf()))
}

/// Builds the model of `dir` on `device` from its checkpoint.
pub fn load_model(dir: &TrocrModelDir, device: &Device) -> Result<TrocrModel, WeightsError> {
    let path = checkpoint_path(&dir.dir)?;
    let tensors = read_tensors(&path)?;
    load_from_tensors(dir, tensors, path, device)
}

/// Builds the model from tensors already read (`path` only names them in errors).
fn load_from_tensors(
    dir: &TrocrModelDir,
    tensors: BTreeMap<String, PackTensor>,
    path: PathBuf,
    device: &Device,
) -> Result<TrocrModel, WeightsError> {
    let mut source = CheckpointSource {
        path,
        tensors,
        device: device.clone(),
    };
    let model = TrocrModel::build(&mut source, &dir.config)?;
    source.drop_tied_projection(dir.config.decoder.tie_word_embeddings);
    source.finish()?;
    Ok(model)
}

fn read_tensors(path: &Path) -> Result<BTreeMap<String, PackTensor>, WeightsError> {
    let read_error = |message: String| WeightsError::Read {
        path: path.to_path_buf(),
        message,
    };
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    if is_safetensors {
        let mut store = SafetensorsStore::from_file(path);
        store
            .get_all_tensors()
            .cloned()
            .map_err(|e| read_error(e.to_string()))
    } else {
        let mut store = PytorchStore::from_file(path);
        store
            .get_all_tensors()
            .cloned()
            .map_err(|e| read_error(e.to_string()))
    }
}

/// Hands out checkpoint tensors by name, removing each so leftovers can be reported.
struct CheckpointSource {
    path: PathBuf,
    tensors: BTreeMap<String, PackTensor>,
    device: Device,
}

impl CheckpointSource {
    /// Takes `name`, checks its shape, and returns its values as f32.
    fn take_data(&mut self, name: &str, expected: &[usize]) -> Result<TensorData, WeightsError> {
        let tensor = self
            .tensors
            .remove(name)
            .ok_or_else(|| WeightsError::Missing {
                path: self.path.clone(),
                name: name.to_string(),
            })?;
        let found: Vec<usize> = tensor.shape.iter().copied().collect();
        if found != expected {
            return Err(WeightsError::Shape {
                path: self.path.clone(),
                name: name.to_string(),
                expected: expected.to_vec(),
                found,
            });
        }
        let data_error = |message: String| WeightsError::Data {
            path: self.path.clone(),
            name: name.to_string(),
            message,
        };
        let data = bridge::into_data(tensor).map_err(|e| data_error(e.to_string()))?;
        Ok(data.convert::<f32>())
    }

    /// transformers ties the output projection to the token embedding and ignores a stored
    /// `decoder.output_projection.weight` (older checkpoints keep one); it is not extra.
    fn drop_tied_projection(&mut self, tied: bool) {
        if tied {
            self.tensors.remove("decoder.output_projection.weight");
        }
    }

    fn finish(self) -> Result<(), WeightsError> {
        if self.tensors.is_empty() {
            Ok(())
        } else {
            Err(WeightsError::Unexpected {
                path: self.path,
                names: self.tensors.into_keys().collect(),
            })
        }
    }
}

impl ParamSource for CheckpointSource {
    type Error = WeightsError;

    fn device(&self) -> &Device {
        &self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        _init: Init,
    ) -> Result<Tensor<D>, WeightsError> {
        let data = self.take_data(name, &shape)?;
        Ok(Tensor::from_data(data, &self.device))
    }

    fn linear_weight(
        &mut self,
        name: &str,
        d_output: usize,
        d_input: usize,
    ) -> Result<Tensor<2>, WeightsError> {
        let data = self.take_data(name, &[d_output, d_input])?;
        let rows = data.try_to_vec::<f32>().map_err(|e| WeightsError::Data {
            path: self.path.clone(),
            name: name.to_string(),
            message: format!("{e:?}"),
        })?;
        let transposed = transpose(&rows, d_output, d_input);
        Ok(Tensor::from_data(
            TensorData::new(transposed, [d_input, d_output]),
            &self.device,
        ))
    }

    fn has_prefix(&self, prefix: &str) -> bool {
        self.tensors
            .range(prefix.to_string()..)
            .next()
            .is_some_and(|(name, _)| name.starts_with(prefix))
    }
}

/// `[rows, cols]` row-major to `[cols, rows]` row-major.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for (r, row) in values.chunks_exact(cols).enumerate() {
        for (c, value) in row.iter().enumerate() {
            out[c * rows + r] = *value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::transpose;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        assert_eq!(
            transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }
}
