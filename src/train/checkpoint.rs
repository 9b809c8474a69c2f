//! A run's state on disk: the network, the optimiser's moments and where the loop stands.
//! A checkpoint is written whole into a fresh folder and then renamed into place, so a kill
//! at any moment leaves either the previous checkpoint or the new one, never half of one.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::TrainError;
use crate::nn::easyocr::Crnn;

const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const STATE: &str = "state.json";

/// One finished epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub mean_loss: f64,
    pub validation_cer: Option<f64>,
    pub seconds: f64,
    pub lines_per_second: f64,
}

/// Where the loop stands: the next batch to train is batch `step` of epoch `epoch`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub epoch: usize,
    pub step: usize,
    pub global_step: usize,
    /// Sum of the losses and batches so far in this epoch (for its mean).
    pub epoch_loss_sum: f64,
    pub epoch_batches: usize,
    /// Training seconds so far in this epoch (across interruptions).
    pub epoch_seconds: f64,
    pub history: Vec<EpochRecord>,
    pub best_cer: Option<f64>,
    pub best_epoch: usize,
    pub epochs_without_improvement: usize,
    /// Validation CER of the starting weights (the base model's), measured before the
    /// first batch: what training has to beat.
    #[serde(default)]
    pub base_cer: Option<f64>,
}

/// Writes the checkpoint into `dir/checkpoint`, replacing the previous one atomically.
pub fn save(
    dir: &Path,
    net: &Crnn,
    optim: &ModuleOptimizer,
    progress: &Progress,
) -> Result<(), TrainError> {
    let fresh = dir.join("checkpoint.new");
    let _ = std::fs::remove_dir_all(&fresh);
    std::fs::create_dir_all(&fresh).map_err(|e| TrainError::io(&fresh, e))?;
    let record_error = |path: PathBuf, e: burn::store::RecordError| TrainError::Checkpoint {
        path,
        source: e.into(),
    };
    net.clone()
        .save_file(fresh.join(MODEL))
        .map_err(|e| record_error(fresh.join(MODEL), e))?;
    optim
        .save(fresh.join(OPTIMIZER))
        .map_err(|e| record_error(fresh.join(OPTIMIZER), e))?;
    let state = serde_json::to_string_pretty(progress).map_err(|e| TrainError::Checkpoint {
        path: fresh.join(STATE),
        source: e.into(),
    })?;
    write_synced(&fresh.join(STATE), state.as_bytes())?;
    let current = dir.join("checkpoint");
    let old = dir.join("checkpoint.old");
    let _ = std::fs::remove_dir_all(&old);
    if current.exists() {
        std::fs::rename(&current, &old).map_err(|e| TrainError::io(&current, e))?;
    }
    std::fs::rename(&fresh, &current).map_err(|e| TrainError::io(&current, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// The checkpoint in `dir`, if there is one: `net` and `optim` with its values loaded.
/// A kill between the two renames of [`save`] leaves only `checkpoint.old`, which is used.
pub fn load(
    dir: &Path,
    net: Crnn,
    optim: ModuleOptimizer,
    device: &Device,
) -> Result<Option<(Crnn, ModuleOptimizer, Progress)>, TrainError> {
    let Some(folder) = ["checkpoint", "checkpoint.old"]
        .iter()
        .map(|name| dir.join(name))
        .find(|d| d.join(STATE).is_file())
    else {
        return Ok(None);
    };
    let unreadable = |path: PathBuf, source: Box<dyn std::error::Error + Send + Sync>| {
        TrainError::Checkpoint { path, source }
    };
    let state_path = folder.join(STATE);
    let text = std::fs::read_to_string(&state_path)
        .map_err(|e| unreadable(state_path.clone(), e.into()))?;
    let progress: Progress =
        serde_json::from_str(&text).map_err(|e| unreadable(state_path.clone(), e.into()))?;
    let model_path = folder.join(MODEL);
    let net = net
        .try_load_file(&model_path)
        .map_err(|e| unreadable(model_path.clone(), e.into()))?;
    let net = super::step::for_training(net, device);
    let optim_path = folder.join(OPTIMIZER);
    let optim = optim
        .load(&optim_path)
        .map_err(|e| unreadable(optim_path.clone(), e.into()))?;
    Ok(Some((net, optim, progress)))
}

/// Writes a file and flushes it to the disk before it is renamed into place.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(|e| TrainError::io(path, e))?;
    file.write_all(bytes).map_err(|e| TrainError::io(path, e))?;
    file.sync_all().map_err(|e| TrainError::io(path, e))
}
