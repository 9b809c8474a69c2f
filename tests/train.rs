//! Training checked against PyTorch and end to end: the CTC loss and its gradient, one AdamW
//! step of EasyOCR's CRNN (fixtures from scripts/make_train_fixtures.py), overfitting eight
//! lines to CER 0 with characters the base model lacks, a killed run resumed to the same
//! weights as an uninterrupted one, and a corrupt checkpoint refused with a clear message.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::{CTCLossConfig, Reduction};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::Value;

use inkread::cancel::CancelToken;
use inkread::models::Installer;
use inkread::models::catalog::Catalog;
use inkread::models::easyocr::{ENGLISH_G2_FILE, ENGLISH_G2_MODEL_ID, load_english_g2};
use inkread::models::personal::{ModelCard, PartialEpoch};
use inkread::nn::easyocr::Crnn;
use inkread::pipeline::Recognizer;
use inkread::pipeline::calibration::Calibration;
use inkread::pipeline::easyocr::CrnnRecognizer;
use inkread::train::step::{Batch, adamw, ctc_loss_of_logits, for_training, train_step};
use inkread::train::trainer::publish_checkpoint;
use inkread::train::{TrainError, TrainEvent, TrainRun, train};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train")
}

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(name)).unwrap()).unwrap()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x {
            Value::Array(row) => row.iter().map(|y| y.as_i64().unwrap()).collect::<Vec<_>>(),
            other => vec![other.as_i64().unwrap()],
        })
        .collect()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    inkread::nn::into_f32_vec(t).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn ctc_loss_and_gradient_match_pytorch() {
    let case = json("ctc_loss.json");
    let [frames, batch, classes]: [usize; 3] = ints(&case["logits_shape"])
        .iter()
        .map(|&x| x as usize)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let device = Device::flex().autodiff();
    let tbc = Tensor::<3>::from_data(
        TensorData::new(f32s(&case["logits"]), [frames, batch, classes]),
        &device,
    )
    .require_grad();
    let target_rows = ints(&case["targets"]);
    let longest = target_rows.len() / batch;
    let targets =
        Tensor::<2, Int>::from_data(TensorData::new(target_rows, [batch, longest]), &device);
    let lengths = Tensor::<1, Int>::from_data(
        TensorData::new(ints(&case["target_lengths"]), [batch]),
        &device,
    );

    // Per line (reduction "none"), with Burn's loss module directly.
    let input_lengths = Tensor::<1, Int>::from_data(
        TensorData::new(vec![frames as i64; batch], [batch]),
        &device,
    );
    let none = CTCLossConfig::new()
        .with_zero_infinity(true)
        .init()
        .forward_with_reduction(
            log_softmax(tbc.clone(), 2),
            targets.clone(),
            input_lengths,
            lengths.clone(),
            Reduction::Sum,
        );
    let expected_none = f32s(&case["loss_none"]);
    let sum: f32 = expected_none.iter().sum();
    assert!((values(none.detach())[0] - sum).abs() < 1e-4, "summed loss");

    // Mean, as training computes it, and the gradient with respect to the logits.
    let loss = ctc_loss_of_logits(tbc.clone().swap_dims(0, 1), targets, lengths);
    let got = values(loss.clone().detach())[0];
    let expected = case["loss_mean"].as_f64().unwrap() as f32;
    assert!(
        (got - expected).abs() < 1e-4,
        "mean loss {got} vs PyTorch {expected}"
    );
    let grads = loss.backward();
    let grad = values(tbc.grad(&grads).expect("logits have a gradient"));
    let diff = max_abs_diff(&grad, &f32s(&case["grad_logits"]));
    eprintln!("CTC: loss {got} (PyTorch {expected}), gradient max |diff| {diff:.2e}");
    assert!(diff <= 1e-4, "gradient off by {diff}");
}

/// Every float parameter by its Burn path, as host values.
#[derive(Default)]
struct Params {
    path: Vec<String>,
    values: BTreeMap<String, Vec<f32>>,
}

impl ModuleVisitor for Params {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.values.insert(self.path.join("."), values(param.val()));
    }
}

fn params(net: &Crnn) -> BTreeMap<String, Vec<f32>> {
    let mut p = Params::default();
    net.visit(&mut p);
    p.values
}

#[test]
fn one_adamw_step_of_the_crnn_matches_pytorch() {
    let Some(weights) = support::model_file(ENGLISH_G2_MODEL_ID, ENGLISH_G2_FILE) else {
        return;
    };
    let case = json("crnn_step.json");
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let net = load_english_g2(&weights, &device).unwrap();
    let before = params(&net);
    let net = for_training(net, &ad);
    let shape: Vec<usize> = ints(&case["input_shape"])
        .iter()
        .map(|&x| x as usize)
        .collect();
    let raw = std::fs::read(fixtures().join("crnn_step.input.f32")).unwrap();
    let input: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let n = shape[0];
    let target_rows = ints(&case["targets"]);
    let batch = Batch {
        images: Tensor::from_data(
            TensorData::new(input, [n, shape[1], shape[2], shape[3]]),
            &ad,
        ),
        targets: Tensor::from_data(
            TensorData::new(target_rows.clone(), [n, target_rows.len() / n]),
            &ad,
        ),
        target_lengths: Tensor::from_data(TensorData::new(ints(&case["target_lengths"]), [n]), &ad),
    };
    let mut optim = adamw(None);
    let lr = case["lr"].as_f64().unwrap();
    let (net, loss) = train_step(net, &mut optim, &batch, lr).unwrap();
    let expected_loss = case["loss"].as_f64().unwrap() as f32;
    assert!(
        (loss - expected_loss).abs() < 1e-4,
        "loss {loss} vs PyTorch {expected_loss}"
    );
    let after = params(&net.valid());
    let reference = case["params"].as_object().unwrap();
    assert_eq!(after.len(), reference.len(), "parameter count");
    let mut worst = (0.0f32, String::new());
    for (name, r) in reference {
        let ours = after
            .get(name)
            .unwrap_or_else(|| panic!("no parameter {name}"));
        let sampled: Vec<f32> = ints(&r["index"])
            .iter()
            .map(|&i| ours[i as usize])
            .collect();
        let diff = max_abs_diff(&sampled, &f32s(&r["after"]));
        if diff > worst.0 {
            worst = (diff, name.clone());
        }
        let moved: f64 = ours
            .iter()
            .zip(&before[name])
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum();
        let expected_moved = r["abs_update_sum"].as_f64().unwrap();
        let relative = (moved - expected_moved).abs() / expected_moved.max(1e-12);
        assert!(
            relative < 1e-2,
            "{name}: moved {moved} in all, PyTorch {expected_moved}"
        );
    }
    eprintln!(
        "AdamW step: loss {loss} (PyTorch {expected_loss}), worst weight diff {:.2e} in {}",
        worst.0, worst.1
    );
    assert!(worst.0 <= 1e-4, "{} off by {}", worst.1, worst.0);
}

use support::store_with_english_g2 as private_store;

/// Trains on the CPU without listening to progress.
fn train_quietly(
    installer: &Installer,
    run: &TrainRun,
    resume: bool,
) -> Result<inkread::train::TrainOutcome, TrainError> {
    train(
        installer,
        run,
        resume,
        &Device::flex(),
        &CancelToken::new(),
        &mut |_| {},
    )
}

/// Runs `small_run(id, 2)` and kills it (Cancel) in the middle of its second epoch.
fn train_until_killed(
    installer: &Installer,
    id: &str,
) -> Result<inkread::train::TrainOutcome, TrainError> {
    kill_in_second_epoch(installer, &small_run(id, 2))
}

fn kill_in_second_epoch(
    installer: &Installer,
    run: &TrainRun,
) -> Result<inkread::train::TrainOutcome, TrainError> {
    kill_in_epoch(installer, run, 1)
}

/// Trains `run` and kills it (Cancel) after the first step of epoch `epoch` (from 0).
fn kill_in_epoch(
    installer: &Installer,
    run: &TrainRun,
    epoch: usize,
) -> Result<inkread::train::TrainOutcome, TrainError> {
    let cancel = CancelToken::new();
    let stop = cancel.clone();
    train(installer, run, false, &Device::flex(), &cancel, &mut |e| {
        if matches!(e, TrainEvent::Step { epoch: at, step: 1, .. } if at == epoch) {
            stop.cancel();
        }
    })
}

fn lines_manifest() -> PathBuf {
    fixtures().join("lines/manifest.tsv")
}

fn small_run(id: &str, epochs: usize) -> TrainRun {
    TrainRun {
        id: id.into(),
        base: ENGLISH_G2_MODEL_ID.into(),
        data: vec![lines_manifest()],
        val: vec![],
        epochs,
        batch: 4,
        learning_rate: 1e-3,
        seed: 3,
        patience: 100,
        augment: false,
        limit: None,
        checkpoint_minutes: 60.0,
        frozen_convolutions: 0,
        deslant: false,
    }
}

/// The personal models the store's catalog lists now (what `models list` would show).
fn personal_installer(installer: &Installer) -> Installer {
    let personal = inkread::models::personal::discover(&installer.config.models_dir());
    Installer::new(
        installer.config.clone(),
        Catalog::builtin().with_models(personal),
    )
}

fn read_lines(installer: &Installer, id: &str) -> Vec<String> {
    let dir = installer
        .installed_dir(id)
        .expect("the trained model is installed");
    let mut reader = CrnnRecognizer::load_personal(&dir, &Device::flex()).unwrap();
    let samples = inkread::train::samples::read_manifest(
        &lines_manifest(),
        inkread::train::samples::Split::All,
    )
    .unwrap();
    let images: Vec<_> = samples
        .iter()
        .map(|s| image::open(&s.image).unwrap().to_rgb8())
        .collect();
    reader
        .recognize(&images, &CancelToken::new(), &mut |_| {})
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect()
}

#[test]
fn eight_lines_are_learned_to_cer_zero_with_new_characters() {
    let Some((_root, installer)) = private_store() else {
        return;
    };
    let mut run = small_run("overfit", 40);
    // Three times over: 24 validation lines, enough to fit the model's calibration.
    run.val = vec![lines_manifest(); 3];
    run.patience = 40;
    let mut cers = Vec::new();
    let mut published = Vec::new();
    let outcome = train(
        &installer,
        &run,
        false,
        &Device::flex(),
        &CancelToken::new(),
        &mut |e| match e {
            TrainEvent::Epoch(r) => cers.push(r.validation_cer.unwrap()),
            TrainEvent::Published { validation_cer, .. } => published.push(validation_cer.unwrap()),
            _ => {}
        },
    );
    let outcome = outcome.unwrap();
    eprintln!("validation CER by epoch: {cers:?}");
    assert!(
        cers[0] > 0.05,
        "the base model should not read é, ç, ’ yet: {cers:?}"
    );
    assert_eq!(outcome.best_cer, Some(0.0), "CER by epoch: {cers:?}");
    // The starting weights were measured before the first batch: what training beat.
    let base = outcome.base_cer.expect("the base model validated first");
    assert!(base > 0.05, "the base model reads é, ç, ’ already: {base}");
    // Only weights that read better than the start were ever published.
    assert!(!published.is_empty());
    assert!(
        published.iter().all(|&c| c < base),
        "{published:?} against {base}"
    );
    // Published with its calibration, measured on the same validation pass: every line
    // read right, so any confidence it gives is worth full accuracy.
    let dir = outcome.model_dir.clone().expect("published");
    let calibration = Calibration::from_dir(&dir)
        .unwrap()
        .expect("calibration.json beside the weights");
    assert!((calibration.expected_accuracy(0.9) - 1.0).abs() < 1e-6);
    let installer = personal_installer(&installer);
    let entry = installer
        .catalog
        .get("overfit")
        .expect("listed in the catalog");
    assert_eq!(entry.kind.as_str(), "ctc");
    let read = read_lines(&installer, "overfit");
    let expected: Vec<String> = std::fs::read_to_string(lines_manifest())
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(read, expected);
    // With a language model of the same texts (`inkread train lm`) the model reads by beam
    // search, and lines it reads right stay right.
    use inkread::pipeline::ctc_beam::BeamSettings;
    use inkread::pipeline::language_model::{FILE, LanguageModelFile};
    LanguageModelFile {
        order: 4,
        settings: BeamSettings::default(),
        sources: vec![],
        texts: expected.clone(),
        languages: vec![],
        calibration: None,
    }
    .save(&dir)
    .unwrap();
    assert_eq!(read_lines(&installer, "overfit"), expected);
    // A broken language model file is an error, never a quiet greedy reading.
    std::fs::write(dir.join(FILE), "{").unwrap();
    assert!(CrnnRecognizer::load_personal(&dir, &Device::flex()).is_err());
}

/// A model trained on deslanted lines says so on its card, reads its lines deslanted, and
/// passes that on to a model trained from it (the app's corrections), asked or not.
#[test]
fn a_model_trained_on_deslanted_lines_reads_them_so_and_passes_it_on() {
    let Some((_root, installer)) = private_store() else {
        return;
    };
    let mut run = small_run("upright", 3);
    run.deslant = true;
    let outcome = train_quietly(&installer, &run, false).unwrap();
    let dir = outcome
        .model_dir
        .expect("published: it reads its lines better");
    let card = ModelCard::read(&dir).unwrap();
    assert!(card.deslant);
    let reader = CrnnRecognizer::load_personal(&dir, &Device::flex()).unwrap();
    assert!(reader.deslants());

    let installer = personal_installer(&installer);
    let mut from_it = small_run("upright-again", 1);
    from_it.base = "upright".into();
    train_quietly(&installer, &from_it, false).unwrap();
    let stored = inkread::train::trainer::run_dir(&installer, "upright-again").join("run.json");
    let stored: TrainRun = serde_json::from_str(&std::fs::read_to_string(stored).unwrap()).unwrap();
    assert!(stored.deslant, "the base's deslanting is kept");
}

#[test]
fn a_killed_run_resumes_to_the_same_weights() {
    let Some((_root, installer)) = private_store() else {
        return;
    };
    let device = Device::flex();
    train_quietly(&installer, &small_run("straight", 2), false).unwrap();

    let interrupted = train_until_killed(&installer, "resumed");
    assert!(
        matches!(interrupted, Err(TrainError::Cancelled)),
        "{interrupted:?}"
    );
    let mut resumed_at = None;
    train(
        &installer,
        &small_run("resumed", 2),
        true,
        &device,
        &CancelToken::new(),
        &mut |e| {
            if let TrainEvent::Started { resumed_at: at, .. } = e {
                resumed_at = at;
            }
        },
    )
    .unwrap();
    assert_eq!(resumed_at, Some((1, 1)));
    let installer = personal_installer(&installer);
    // Same values (the files differ: a record also carries its run's parameter ids).
    let weights = |id: &str| {
        let dir = installer.installed_dir(id).unwrap();
        let (net, _, card) = inkread::models::personal::load_personal_crnn(&dir, &device).unwrap();
        (params(&net), card.epochs)
    };
    let (straight, resumed) = (weights("straight"), weights("resumed"));
    assert_eq!(resumed.1, 2);
    assert_eq!(
        straight.0, resumed.0,
        "resumed weights differ from uninterrupted ones"
    );
}

#[test]
fn a_corrupt_checkpoint_is_refused_and_nothing_is_lost() {
    let Some((_root, installer)) = private_store() else {
        return;
    };
    let _ = train_until_killed(&installer, "broken");
    let run_dir = inkread::train::trainer::run_dir(&installer, "broken");
    let published = personal_installer(&installer)
        .installed_dir("broken")
        .expect("epoch 1 was published");
    std::fs::write(run_dir.join("checkpoint/model.bpk"), b"not a record").unwrap();
    let err = train_quietly(&installer, &small_run("broken", 2), true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("checkpoint") && err.contains("model.bpk"),
        "{err}"
    );
    assert!(
        published.join("model.bpk").is_file(),
        "the published model is kept"
    );
    // A new run under a taken name must not overwrite the old one silently.
    let err = train_quietly(&installer, &small_run("broken", 2), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--resume"), "{err}");
}

#[test]
fn a_checkpoint_inside_an_epoch_is_published_when_it_reads_better() {
    let Some((_root, installer)) = private_store() else {
        return;
    };
    // Long enough to learn the fixture's é, ç, ’ that the starting weights cannot read: a
    // checkpoint is published only if it reads better than they do.
    let run = TrainRun {
        val: vec![lines_manifest()],
        ..small_run("partial", 12)
    };
    let killed = kill_in_epoch(&installer, &run, 8);
    assert!(matches!(killed, Err(TrainError::Cancelled)), "{killed:?}");
    // Remove what the epochs published, so that the checkpoint has only the start to beat.
    let _ = personal_installer(&installer).remove("partial");
    let publish = |events: &mut Vec<TrainEvent>| {
        publish_checkpoint(
            &personal_installer(&installer),
            "partial",
            &Device::flex(),
            &CancelToken::new(),
            &mut |e| events.push(e),
        )
        .unwrap()
    };
    let outcome = publish(&mut Vec::new());
    let dir = outcome.model_dir.expect("the checkpoint was published");
    let card = ModelCard::read(&dir).unwrap();
    assert_eq!(card.epochs, 8);
    assert_eq!(
        card.partial_epoch,
        Some(PartialEpoch {
            batches_done: 1,
            batches: 2
        })
    );
    let (cer, start) = (card.validation_cer.unwrap(), outcome.base_cer.unwrap());
    assert!(
        cer < start,
        "published at {cer} though the start read {start}"
    );
    assert_eq!(card.validation_cer, outcome.best_cer);
    // The same checkpoint again does not read better than itself: nothing is replaced.
    let mut events = Vec::new();
    let again = publish(&mut events);
    assert_eq!(again.model_dir, Some(dir));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, TrainEvent::Published { .. })),
        "{events:?}"
    );
    // The run goes on to its end: no epoch's end may replace the checkpoint with weights
    // that read the validation lines worse.
    train_quietly(&installer, &run, true).unwrap();
    let last = personal_installer(&installer)
        .installed_dir("partial")
        .and_then(|dir| ModelCard::read(&dir))
        .unwrap();
    let last_cer = last.validation_cer.unwrap();
    assert!(last_cer <= cer, "{cer} replaced by {last_cer}");
}

/// Burn 0.22.1's default conv2d weight gradient is a convolution whose kernel is the output
/// gradient; on wgpu (lavapipe here) it comes out wrong once batch × height × width reaches
/// 65 536, while Flex and NdArray are right: `cargo test --test train -- --ignored
/// --nocapture conv_weight_gradient`. A training run checks it first (next test).
#[test]
#[ignore = "upstream Burn bug reproduction: fails on wgpu"]
fn conv_weight_gradient_on_wgpu() {
    use inkread::train::gradient_check::conv_weight_gradient_error;
    for (name, device) in [("flex", Device::flex()), ("wgpu", Device::default())] {
        let worst = conv_weight_gradient_error(&device, 2, 64, 512).unwrap();
        eprintln!("{name}: conv weight gradient, batch 2 of 64 × 512: relative error {worst:.2e}");
        assert!(worst < 1e-3, "{name}: conv weight gradient off by {worst}");
    }
}

/// On a wgpu device a run checks the convolution gradient before anything else: where it is
/// wrong (lavapipe, in CI) the run stops at once with a message naming --device cpu and
/// leaves no run folder behind; where it is right the check passes and training goes on.
#[test]
fn training_on_wgpu_checks_the_convolution_gradient_first() {
    use inkread::train::gradient_check::conv_weight_gradient_error;
    let Some(device) = inkread::device::wgpu_adapters().into_iter().next() else {
        support::skip::skip("no wgpu adapter (install Mesa's lavapipe: packaging/setup.sh)");
        return;
    };
    let Some((_store, installer)) = private_store() else {
        return;
    };
    let right = conv_weight_gradient_error(&device, 4, 64, 1024).unwrap() < 1e-3;
    let result = train(
        &installer,
        &small_run("wgpu-check", 1),
        false,
        &device,
        &CancelToken::new(),
        &mut |_| {},
    );
    match result {
        Err(TrainError::WrongGradient { error }) => {
            assert!(!right, "refused although the gradient is right ({error})");
            assert!(
                TrainError::WrongGradient { error }
                    .to_string()
                    .contains("--device cpu")
            );
            let dir = inkread::train::trainer::run_dir(&installer, "wgpu-check");
            assert!(!dir.exists(), "a refused run left {}", dir.display());
        }
        Ok(_) => assert!(right, "trained although the gradient is wrong"),
        Err(other) => panic!("{other}"),
    }
}

/// Where a training step's time goes on the CPU: `cargo test --test train -- --ignored
/// --nocapture step_timing` (prints; asserts nothing about speed).
#[test]
#[ignore = "timing: prints where a training step's time goes"]
fn step_timing() {
    use inkread::train::step::ctc_loss;
    use std::time::Instant;
    let Some(weights) = support::model_file(ENGLISH_G2_MODEL_ID, ENGLISH_G2_FILE) else {
        return;
    };
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let net = for_training(load_english_g2(&weights, &device).unwrap(), &ad);
    let lines: Vec<image::GrayImage> = (0..16)
        .map(|i| {
            image::GrayImage::from_fn(600, 64, |x, y| {
                image::Luma([((x * 7 + y * 13 + i) % 255) as u8])
            })
        })
        .collect();
    let classes: Vec<Vec<usize>> = (0..16)
        .map(|i| (0..40).map(|j| 1 + (i + j) % 90).collect())
        .collect();
    let batch = Batch::new(&lines, &classes, &ad);
    let t = Instant::now();
    let logits = net.forward(batch.images.clone());
    let _ = values(logits.clone().detach().sum());
    eprintln!("forward (autodiff): {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let plain = net.clone().valid();
    let _ = values(plain.forward(batch.images.clone().inner()).sum());
    eprintln!("forward (inference): {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let _ = logits.sum().backward();
    eprintln!(
        "backward of sum(logits): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let loss = ctc_loss(&net, &batch);
    let _ = values(loss.clone().detach());
    eprintln!("forward + CTC loss: {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let _ = loss.backward();
    eprintln!("backward through CTC: {:.2} s", t.elapsed().as_secs_f64());
    let mut optim = adamw(Some(5.0));
    let t = Instant::now();
    let (net, _) = train_step(net, &mut optim, &batch, 1e-4).unwrap();
    eprintln!("whole step: {:.2} s", t.elapsed().as_secs_f64());
    let net = net.with_frozen_convolutions(4);
    let t = Instant::now();
    let _ = train_step(net, &mut optim, &batch, 1e-4).unwrap();
    eprintln!(
        "whole step, first 4 convolutions frozen: {:.2} s",
        t.elapsed().as_secs_f64()
    );
}

/// The eight fixture lines stacked on one page, with a PAGE-XML transcription of it.
fn page_of_lines(dir: &Path) -> PathBuf {
    let samples = inkread::train::samples::read_manifest(
        &lines_manifest(),
        inkread::train::samples::Split::All,
    )
    .unwrap();
    let images: Vec<image::RgbImage> = samples
        .iter()
        .map(|s| image::open(&s.image).unwrap().to_rgb8())
        .collect();
    let width = images.iter().map(|i| i.width()).max().unwrap() + 40;
    let mut page = image::RgbImage::from_pixel(
        width,
        70 * images.len() as u32 + 20,
        image::Rgb([236, 236, 236]),
    );
    let mut lines = String::new();
    for (i, (img, s)) in images.iter().zip(&samples).enumerate() {
        let (x, y) = (20, 20 + 70 * i as u32);
        image::imageops::replace(&mut page, img, i64::from(x), i64::from(y));
        let (x1, y1) = (x + img.width(), y + img.height());
        lines.push_str(&format!(
            "<TextLine id=\"l{i}\"><Coords points=\"{x},{y} {x1},{y} {x1},{y1} {x},{y1}\"/><TextEquiv><Unicode>{}</Unicode></TextEquiv></TextLine>\n",
            s.text
        ));
    }
    page.save(dir.join("page.png")).unwrap();
    let xml = dir.join("page.xml");
    std::fs::write(&xml, format!(
        "<PcGts xmlns=\"http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15\"><Page imageFilename=\"page.png\"><TextRegion id=\"r\">{lines}</TextRegion></Page></PcGts>"
    )).unwrap();
    xml
}

#[test]
fn page_xml_lines_are_cropped_from_their_page_for_training() {
    let Some((_root, installer)) = private_store() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let xml = page_of_lines(dir.path());
    let mut run = small_run("from-page", 1);
    run.data = vec![xml];
    let (train_lines, val_lines) = inkread::train::dataset::read_samples(&run).unwrap();
    assert_eq!(train_lines.len(), 8);
    assert!(val_lines.is_empty(), "one page: nothing held out");
    assert_eq!(train_lines[1].text, "ça coûte cher");
    let mut started = None;
    train(
        &installer,
        &run,
        false,
        &Device::flex(),
        &CancelToken::new(),
        &mut |e| {
            if let TrainEvent::Started {
                train_lines,
                classes,
                ..
            } = e
            {
                started = Some((train_lines, classes));
            }
        },
    )
    .unwrap();
    // English g2's 96 characters and the blank, plus the 10 the French lines need.
    assert_eq!(started, Some((8, 107)));
}

#[test]
fn frozen_convolutions_stay_as_they_were() {
    let Some(weights) = support::model_file(ENGLISH_G2_MODEL_ID, ENGLISH_G2_FILE) else {
        return;
    };
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let net = load_english_g2(&weights, &device).unwrap();
    let before = params(&net);
    let net = for_training(net, &ad).with_frozen_convolutions(4);
    let lines: Vec<image::GrayImage> = (0..2)
        .map(|i| {
            image::GrayImage::from_fn(256, 64, |x, y| {
                image::Luma([((x * 7 + y * 13 + i) % 255) as u8])
            })
        })
        .collect();
    let batch = Batch::new(&lines, &[vec![5, 6, 7], vec![8, 9]], &ad);
    let (net, _) = train_step(net, &mut adamw(None), &batch, 1e-3).unwrap();
    let after = params(&net.valid());
    for (name, values) in &after {
        let frozen = ["convs.0.", "convs.1.", "convs.2.", "convs.3."]
            .iter()
            .any(|p| name.starts_with(p));
        assert_eq!(frozen, *values == before[name], "{name}: frozen {frozen}");
    }
}

/// `inkread train recognizer`, `models list` and `read --recognizer` from the command line,
/// in a store of their own.
#[test]
fn the_command_line_trains_lists_and_reads_a_personal_model() {
    let Some((root, _installer)) = private_store() else {
        return;
    };
    let home = root.path().join("inkread");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_inkread"))
            .args(args)
            .env("INKREAD_HOME", &home)
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(
            out.status.success(),
            "inkread {args:?}: {}",
            text(&out.stderr)
        );
        (text(&out.stdout), text(&out.stderr))
    };
    let manifest = lines_manifest();
    let (_, log) = run(&[
        "train",
        "recognizer",
        "--data",
        manifest.to_str().unwrap(),
        "--val",
        manifest.to_str().unwrap(),
        "--out",
        "cli-hand",
        "--epochs",
        "2",
        "--batch",
        "4",
        "--no-augment",
        "--device",
        "cpu",
    ]);
    assert!(
        log.contains("8 training lines, 8 validation lines"),
        "{log}"
    );
    assert!(log.contains("installed in"), "{log}");
    let (list, _) = run(&["models", "list"]);
    let row = list
        .lines()
        .find(|l| l.starts_with("cli-hand"))
        .unwrap_or_default();
    assert!(
        row.contains("recognizer") && row.contains("installed"),
        "{list}"
    );
    let line = fixtures().join("lines/line_0.png");
    let (text, _) = run(&[
        "read",
        "--recognizer",
        "cli-hand",
        "--mode",
        "line",
        "--device",
        "cpu",
        line.to_str().unwrap(),
    ]);
    assert!(!text.trim().is_empty(), "the personal model read nothing");
    // A second run under the same name must not overwrite the first.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inkread"))
        .args([
            "train",
            "recognizer",
            "--data",
            manifest.to_str().unwrap(),
            "--out",
            "cli-hand",
        ])
        .env("INKREAD_HOME", &home)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
}

/// `train export-lines` writes each line as training sees it (64 px high, grey) with a
/// manifest that reads back as the same texts and splits; every other line with `every` 2.
#[test]
fn exported_lines_read_back_as_training_sees_them() {
    use inkread::train::export::export_lines;
    use inkread::train::samples::{Split, read_manifest};
    let (train_rows, val_rows) =
        inkread::train::dataset::read_data(&[lines_manifest()], &[], None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lines");
    let written = export_lines(&train_rows, &val_rows, 2, &out, &CancelToken::new()).unwrap();
    let kept: Vec<&str> = train_rows
        .iter()
        .step_by(2)
        .chain(val_rows.iter().step_by(2))
        .map(|s| s.text.as_str())
        .collect();
    assert!(written > 0);
    assert_eq!(written, kept.len());
    let manifest = out.join("manifest.tsv");
    let back = read_manifest(&manifest, Split::All).unwrap();
    let texts: Vec<&str> = back.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, kept);
    let back_train = read_manifest(&manifest, Split::Train).unwrap();
    assert_eq!(back_train.len(), train_rows.iter().step_by(2).count());
    for sample in &back {
        let image = image::open(&sample.image).unwrap();
        assert_eq!(image.height(), 64, "{}", sample.image.display());
        assert!(
            image.as_luma8().is_some(),
            "not grey: {}",
            sample.image.display()
        );
    }
}
