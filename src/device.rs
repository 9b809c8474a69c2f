//! Picks the Burn device: a GPU through wgpu where there is one, else the CPU.
//!
//! The CPU backend is Flex: measured faster than NdArray on TrOCR (docs/BENCH.md), and
//! Burn's recommended CPU backend. NdArray stays selectable for comparisons.

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::backend::{CubeDevice, DispatchDevice, WgpuDeviceKind};
use burn::tensor::{Device, DeviceType};

/// What the user asked for with `--device`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// A real GPU through wgpu if there is one, else the fastest CPU backend.
    #[default]
    Auto,
    /// Any wgpu adapter, a software one (lavapipe) included.
    Gpu,
    /// The fastest CPU backend (Flex).
    Cpu,
    /// Burn's Flex CPU backend (for benchmarks).
    #[value(hide = true)]
    Flex,
    /// Burn's NdArray CPU backend (for benchmarks).
    #[value(hide = true)]
    Ndarray,
}

/// A device ready for tensors, and how to name it to the user.
#[derive(Clone, Debug)]
pub struct SelectedDevice {
    pub device: Device,
    /// The GPU adapter's name, or "CPU (Flex)" / "CPU (NdArray)".
    pub description: String,
    pub is_gpu: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no GPU adapter found through wgpu (Vulkan, Metal, DX12 or GL); use --device cpu")]
    NoGpu,
}

impl From<DeviceError> for crate::Error {
    fn from(e: DeviceError) -> Self {
        crate::Error::Other(e.to_string())
    }
}

/// Resolves a choice to a device. Never panics, also on machines without any GPU driver.
pub fn select(choice: DeviceChoice) -> Result<SelectedDevice, DeviceError> {
    match choice {
        DeviceChoice::Cpu | DeviceChoice::Flex => Ok(flex()),
        DeviceChoice::Ndarray => Ok(ndarray()),
        DeviceChoice::Auto => Ok(wgpu_adapters()
            .into_iter()
            .find(|d| !is_software_adapter(d))
            .map(describe_gpu)
            .unwrap_or_else(flex)),
        DeviceChoice::Gpu => {
            let adapters = wgpu_adapters();
            // Prefer real hardware, but a software rasterizer is still a wgpu device.
            let best = adapters
                .iter()
                .find(|d| !is_software_adapter(d))
                .or(adapters.first())
                .cloned();
            best.map(describe_gpu).ok_or(DeviceError::NoGpu)
        }
    }
}

/// The wgpu adapters of this machine, as Burn devices. Empty when wgpu finds none or its
/// probing fails.
pub fn wgpu_adapters() -> Vec<Device> {
    catch_unwind(|| Device::enumerate(DeviceType::Wgpu).into_iter().collect()).unwrap_or_default()
}

/// Whether a device runs through wgpu (a GPU, or a software adapter).
pub fn is_wgpu(device: &Device) -> bool {
    matches!(
        device.as_dispatch(),
        DispatchDevice::Cube(CubeDevice::Wgpu(_))
    )
}

/// Whether a wgpu device is a CPU-type adapter (lavapipe, llvmpipe, WARP).
pub fn is_software_adapter(device: &Device) -> bool {
    matches!(
        device.as_dispatch(),
        DispatchDevice::Cube(CubeDevice::Wgpu(w)) if w.kind == WgpuDeviceKind::Cpu
    )
}

fn flex() -> SelectedDevice {
    SelectedDevice {
        device: Device::flex(),
        description: "CPU (Flex)".into(),
        is_gpu: false,
    }
}

// NdArray is deprecated in Burn 0.22; kept only so benchmarks can compare against it.
#[allow(deprecated)]
fn ndarray() -> SelectedDevice {
    SelectedDevice {
        device: Device::ndarray(),
        description: "CPU (NdArray)".into(),
        is_gpu: false,
    }
}

/// Names a wgpu device by its adapter (this opens the device, which its first use would do
/// anyway).
fn describe_gpu(device: Device) -> SelectedDevice {
    let name = catch_unwind(AssertUnwindSafe(|| device.identity().map(|i| i.name)))
        .ok()
        .flatten()
        .unwrap_or_else(|| "wgpu adapter".into());
    let description = if is_software_adapter(&device) {
        format!("{name} (software wgpu)")
    } else {
        name
    };
    SelectedDevice {
        device,
        description,
        is_gpu: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_choices_name_their_backend() {
        assert_eq!(select(DeviceChoice::Cpu).unwrap().description, "CPU (Flex)");
        assert_eq!(
            select(DeviceChoice::Ndarray).unwrap().description,
            "CPU (NdArray)"
        );
        assert!(!select(DeviceChoice::Cpu).unwrap().is_gpu);
    }

    #[test]
    fn auto_never_fails_and_never_picks_a_software_adapter() {
        let chosen = select(DeviceChoice::Auto).unwrap();
        assert!(!is_software_adapter(&chosen.device));
        eprintln!("auto picked: {}", chosen.description);
    }

    #[test]
    fn gpu_is_an_adapter_or_a_clean_error() {
        match select(DeviceChoice::Gpu) {
            Ok(d) => assert!(d.is_gpu, "{}", d.description),
            Err(e) => assert!(e.to_string().contains("--device cpu")),
        }
    }
}
