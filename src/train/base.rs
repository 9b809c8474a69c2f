//! The network a run starts from: an installed catalog CRNN, a personal model, or scratch.

use burn::tensor::Device;

use super::TrainError;
use super::alphabet::Alphabet;
use crate::models::Installer;
use crate::models::catalog::Source;
use crate::models::easyocr::{ENGLISH_G2_CHARACTERS, ENGLISH_G2_MODEL_ID, load_english_g2};
use crate::models::personal::{ModelCard, load_personal_crnn};
use crate::nn::easyocr::Crnn;

/// `--base scratch`: fresh weights, the alphabet from the data alone.
pub const SCRATCH: &str = "scratch";

/// Whether the base is a personal model trained on deslanted lines: what is learned from
/// it must see its lines the same way.
pub fn base_deslants(installer: &Installer, base: &str) -> bool {
    installer
        .installed_dir(base)
        .and_then(|dir| ModelCard::read(&dir))
        .is_some_and(|card| card.deslant)
}

/// The base network (on `device`, without autodiff) and its alphabet; installs the base
/// model first when it is a catalog model that is not installed yet.
pub fn base_network(
    installer: &Installer,
    base: &str,
    seed: u64,
    device: &Device,
) -> Result<(Crnn, Alphabet), TrainError> {
    if base == SCRATCH {
        return Ok((Crnn::fresh(1, seed, device)?, Alphabet::new([])));
    }
    let entry = installer
        .catalog
        .get(base)
        .ok_or_else(|| crate::Error::Model(format!("unknown base model '{base}'")))?;
    let install_error =
        |e: crate::models::InstallError| crate::Error::model_because(base.to_string(), e);
    if entry
        .sources
        .iter()
        .any(|s| matches!(s, Source::Trained { .. }))
    {
        let dir = installer
            .ensure_installed(base, &mut |_| {})
            .map_err(install_error)?;
        let (net, labels, _) = load_personal_crnn(&dir, device)?;
        let alphabet = Alphabet::new(labels.iter().skip(1).filter_map(|l| l.chars().next()));
        return Ok((net, alphabet));
    }
    if base != ENGLISH_G2_MODEL_ID {
        return Err(TrainError::UnsupportedBase {
            base: base.to_string(),
        });
    }
    let dir = installer
        .ensure_installed(base, &mut |_| {})
        .map_err(install_error)?;
    let net = load_english_g2(&dir.join(crate::models::easyocr::ENGLISH_G2_FILE), device)?;
    Ok((net, Alphabet::new(ENGLISH_G2_CHARACTERS.chars())))
}
