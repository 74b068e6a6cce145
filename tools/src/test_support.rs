//! What the QEMU test files share: each image built once per test process, and a cap on machines running at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use crate::image::{self, Flavor};

/// The most QEMU machines one test process runs at the same time (each
/// busy-polls a core; the machines have two).
pub const CONCURRENT_MACHINES: usize = 2;

/// Builds `flavor`'s image once per test process (builds never run
/// concurrently) and returns its path; panics with cargo's verdict if the
/// build fails, since no QEMU test can run without it.
pub fn image(flavor: Flavor) -> PathBuf {
    static BUILDS: Mutex<BTreeMap<&'static str, Result<PathBuf, String>>> =
        Mutex::new(BTreeMap::new());
    let mut builds = BUILDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    builds
        .entry(flavor.name())
        .or_insert_with(|| image::build(flavor))
        .clone()
        .unwrap_or_else(|error| panic!("building the {} image failed: {error}", flavor.name()))
}

/// A slot among [`CONCURRENT_MACHINES`]; hold it while a machine runs.
pub struct MachineSlot;

static SLOTS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

impl MachineSlot {
    /// Waits for a free slot and takes it.
    pub fn take() -> MachineSlot {
        let (running, freed) = &SLOTS;
        let mut running = running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while *running >= CONCURRENT_MACHINES {
            running = freed
                .wait(running)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *running += 1;
        MachineSlot
    }
}

impl Drop for MachineSlot {
    fn drop(&mut self) {
        let (running, freed) = &SLOTS;
        *running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) -= 1;
        freed.notify_one();
    }
}
