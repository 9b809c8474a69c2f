//! "Learn from my corrections" end to end in the real app (egui_kittest): a line that
//! EasyOCR's English model cannot read (French accents), corrected by typing in the text
//! panel, kept, learned into a personal model on the worker, chosen, and read right.

mod support;

use std::path::Path;

use eframe::egui;
use egui::accesskit::Role;
use egui::{Key, Modifiers, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use inkread::app::catalog_factory::CatalogFactory;
use inkread::app::{InkreadApp, MemoryClipboard};
use inkread::models::easyocr::ENGLISH_G2_MODEL_ID;
use support::harness::wait_up_to;

const TRUTH: &str = "été à Noël";

fn first_line(app: &InkreadApp, item: usize) -> Option<String> {
    let reading = app.queue.items.get(item)?.reading.as_ref()?;
    Some(reading.lines.first()?.text.clone())
}

/// The app on `installer`'s store, reading whole images as one line with EasyOCR's English
/// model (the base "Learn from my corrections" starts from).
fn app_reading_with_english_g2(
    installer: inkread::models::Installer,
) -> Harness<'static, InkreadApp> {
    let device = burn::tensor::Device::flex();
    let factory = CatalogFactory::new(installer, device, "CPU (test)".into());
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1280.0, 820.0))
        .build_eframe(move |cc| {
            InkreadApp::new(cc, Box::new(factory), Box::new(MemoryClipboard::default()))
        });
    harness.step();
    let app = harness.state_mut();
    app.settings.recognizer = ENGLISH_G2_MODEL_ID.into();
    app.settings.recognizer_chosen = true;
    app.settings.detector = None;
    app.settings.detector_chosen = true;
    harness.step();
    harness
}

#[test]
fn a_corrected_line_is_learned_and_then_read_right() {
    let Some((_root, installer)) = support::store_with_english_g2() else {
        return;
    };
    let mut harness = app_reading_with_english_g2(installer);
    let line = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train/lines/line_0.png");
    harness.state_mut().open_paths([line.clone()]);
    wait_up_to(&mut harness, "the line to be read", 60, |app| {
        first_line(app, 0).is_some() && !app.is_busy()
    });
    let misread = first_line(harness.state(), 0).unwrap();
    assert_ne!(
        misread, TRUTH,
        "the base model has no é: it cannot read the line yet"
    );

    // The user fixes the line in the text panel and leaves the field.
    // The line's text field (the panel's only multi-line field).
    let field = |h: &Harness<'static, InkreadApp>| h.get_by_role(Role::MultilineTextInput).value();
    assert_eq!(field(&harness).as_deref(), Some(misread.as_str()));
    harness.get_by_role(Role::MultilineTextInput).focus();
    harness.step();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness
        .get_by_role(Role::MultilineTextInput)
        .type_text(TRUTH);
    harness.step();
    assert_eq!(field(&harness).as_deref(), Some(TRUTH));
    harness.step();
    harness.key_press(Key::Escape);
    wait_up_to(&mut harness, "the correction to be kept", 20, |app| {
        app.learning.corrections == 1
    });

    harness.get_by_label("Learn from my corrections").click();
    harness.step();
    assert!(harness.state().learning.is_running());
    wait_up_to(&mut harness, "learning to finish", 600, |app| {
        app.learning.learned.is_some() || app.error().is_some()
    });
    let learned = harness.state().learning.learned.clone().unwrap();
    eprintln!("learned {} (CER {:?})", learned.id, learned.cer);
    assert_eq!(learned.cer, Some(0.0));

    harness
        .get_by_label(&format!("Read with {}", learned.id))
        .click();
    harness.step();
    assert_eq!(harness.state().settings.recognizer, learned.id);
    harness.state_mut().open_paths([line]);
    wait_up_to(&mut harness, "the line to be read again", 60, |app| {
        first_line(app, 1).is_some() && !app.is_busy()
    });
    assert_eq!(first_line(harness.state(), 1).unwrap(), TRUTH);

    // The personal model can be deleted from the models panel.
    harness
        .get_by_label(&format!("Delete {}", learned.id))
        .click();
    wait_up_to(&mut harness, "the model to be deleted", 20, |app| {
        !app.models.models.iter().any(|m| m.id == learned.id)
    });
    assert_ne!(harness.state().settings.recognizer, learned.id);
}

/// Corrections that only repeat what the model already reads: nothing learnt from them can
/// read the checking lines better (the start reads them perfectly), so no model is kept, the
/// app says so plainly, and no run folder is left behind.
#[test]
fn corrections_the_model_already_reads_make_no_new_model() {
    use inkread::models::easyocr::ENGLISH_G2_FILE;
    use inkread::pipeline::Recognizer;
    use inkread::pipeline::easyocr::CrnnRecognizer;
    use inkread::train::corrections::{Corrections, VALIDATE_EVERY, corrections_dir};
    let Some((_root, installer)) = support::store_with_english_g2() else {
        return;
    };
    let Some(weights) = support::model_file(ENGLISH_G2_MODEL_ID, ENGLISH_G2_FILE) else {
        return;
    };
    let device = burn::tensor::Device::flex();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train/lines");
    let lines: Vec<image::RgbImage> = (0..VALIDATE_EVERY)
        .map(|i| {
            image::open(fixtures.join(format!("line_{i}.png")))
                .unwrap()
                .to_rgb8()
        })
        .collect();
    let mut base = CrnnRecognizer::load(&weights, &device).unwrap();
    let readings = base
        .recognize(&lines, &inkread::cancel::CancelToken::new(), &mut |_| {})
        .unwrap();
    let store = Corrections::new(corrections_dir(&installer.config.home));
    for (line, reading) in lines.iter().zip(&readings) {
        assert!(!reading.text.trim().is_empty());
        store.record(line, &reading.text).unwrap();
    }
    assert!(store.validates_apart());
    let home = installer.config.home.clone();
    let mut harness = app_reading_with_english_g2(installer);
    assert_eq!(harness.state().learning.corrections, VALIDATE_EVERY);
    harness.get_by_label("Learn from my corrections").click();
    harness.step();
    wait_up_to(&mut harness, "learning to finish", 600, |app| {
        app.learning.learned.is_some() || app.error().is_some()
    });
    let error = harness.state().error().map(str::to_owned);
    assert!(harness.state().learning.learned.is_none(), "{error:?}");
    let error = error.unwrap();
    assert!(error.contains("not kept"), "{error}");
    let personal: Vec<String> = inkread::models::personal::discover(&home.join("models"))
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(personal.is_empty(), "kept: {personal:?}");
    let runs = std::fs::read_dir(home.join("training"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(runs, 0, "a run folder was left in {}", home.display());
}

/// A personal model whose folder was cut short (say the disk filled while it was written):
/// the app keeps reading with `auto`, the models panel names the model damaged and says
/// why, offers no download for it, and deletes it.
#[test]
fn a_damaged_personal_model_is_shown_with_why_and_can_be_deleted() {
    use inkread::models::catalog::Catalog;
    use inkread::models::personal::{CARD_FILE, CRNN_G2, ModelCard, WEIGHTS_FILE, discover};
    use inkread::models::{Installer, StoreConfig};

    let root = tempfile::tempdir().unwrap();
    let config = StoreConfig::rooted(root.path(), "http://127.0.0.1:9");
    let dir = config.model_dir("mine");
    std::fs::create_dir_all(&dir).unwrap();
    let card = ModelCard {
        id: "mine".into(),
        architecture: CRNN_G2.into(),
        alphabet: "ab".into(),
        base: None,
        data: Vec::new(),
        training_lines: 1,
        validation_lines: 0,
        epochs: 1,
        best_epoch: 1,
        partial_epoch: None,
        validation_cer: None,
        seed: 1,
        deslant: false,
        created: "2026-12-01T10:00:00Z".into(),
        weights_sha256: String::new(),
    };
    std::fs::write(dir.join(CARD_FILE), serde_json::to_string(&card).unwrap()).unwrap();
    std::fs::write(dir.join(WEIGHTS_FILE), [7u8; 10]).unwrap();
    let catalog = Catalog::builtin().with_models(discover(&config.models_dir()));
    let factory = CatalogFactory::new(
        Installer::new(config, catalog),
        burn::tensor::Device::flex(),
        "CPU (test)".into(),
    );
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1280.0, 820.0))
        .build_eframe(move |cc| {
            InkreadApp::new(cc, Box::new(factory), Box::new(MemoryClipboard::default()))
        });
    harness.step();
    assert_eq!(harness.state().settings.recognizer, "auto");
    harness.get_by_label_contains("mine is damaged");

    // The user picks it in the list anyway.
    harness.state_mut().settings.recognizer = "mine".into();
    harness.step();
    harness.get_by_label_contains("mine cannot be used, its folder is damaged");
    assert!(
        harness
            .query_by_label_contains("Install Personal")
            .is_none()
    );
    harness.get_by_label("Delete mine").click();
    wait_up_to(&mut harness, "the model to be deleted", 20, |app| {
        !app.models.models.iter().any(|m| m.id == "mine")
    });
    assert!(!dir.exists());
}
