//! Opens the app with the test suite's small fake models, to try the window without
//! downloading any network: `cargo run --example app`.

#[path = "../tests/support/fakes.rs"]
mod fakes;

fn main() -> anyhow::Result<()> {
    inkread::app::run_with(Box::new(fakes::FakeFactory::default()))
}
