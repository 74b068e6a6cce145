//! What the QEMU test files share: each image built once per test process, a cap on machines running at once, counter arithmetic, and ports drained while a flood is sent.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crate::image::{self, Flavor};
use crate::qemu::{Counters, PortSocket};

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

/// The value of counter `name` on the port named `port`; 0 when the router does not print it.
pub fn counter(counters: &Counters, port: &str, name: &str) -> u64 {
    counters
        .get(&(port.to_string(), name.to_string()))
        .copied()
        .unwrap_or(0)
}

/// How much counter `name` on the port named `port` grew from `before` to `after`.
pub fn counter_growth(before: &Counters, after: &Counters, port: &str, name: &str) -> u64 {
    counter(after, port, name).saturating_sub(counter(before, port, name))
}

/// Every counter that changed from `before` to `after`, as `port name +delta`.
pub fn counter_changes(before: &Counters, after: &Counters) -> Vec<String> {
    after
        .iter()
        .filter_map(|(key, value)| {
            let earlier = before.get(key).copied().unwrap_or(0);
            (*value != earlier).then(|| {
                let delta = i128::from(*value) - i128::from(earlier);
                format!("{} {} {delta:+}", key.0, key.1)
            })
        })
        .collect()
}

/// What a drain thread does with a frame its port transmitted: the frame
/// to send back on the same port (an answer to a solicitation, say), if any.
pub type Answerer<'a> = &'a (dyn Fn(&[u8]) -> Option<Vec<u8>> + Sync);

/// How long a drain thread waits for a frame before it looks at its stop flag again.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// Runs `body` while one thread per `(port, answer)` reads the port, sends
/// back `answer(frame)` when that is `Some`, and discards everything else,
/// so that the router's transmissions never back up while a flood is sent.
/// Returns what `body` returned and how many frames each port transmitted
/// meanwhile. The threads stop however `body` ends (a failed send panics).
pub fn while_draining<T>(
    ports: &[(&PortSocket, Answerer)],
    body: impl FnOnce() -> T,
) -> (T, Vec<usize>) {
    let stop = AtomicBool::new(false);
    let received: Vec<AtomicUsize> = ports.iter().map(|_| AtomicUsize::new(0)).collect();
    let value = thread::scope(|scope| {
        let _stop_draining = StopOnDrop(&stop);
        for ((port, answer), received) in ports.iter().zip(&received) {
            let stop = &stop;
            scope.spawn(move || drain_until(port, *answer, stop, received));
        }
        body()
    });
    let counts = received
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .collect();
    (value, counts)
}

/// Reads `port` until `stop` is set, sending back what `answer` gives and
/// counting every frame in `received`.
fn drain_until(port: &PortSocket, answer: Answerer, stop: &AtomicBool, received: &AtomicUsize) {
    while !stop.load(Ordering::Relaxed) {
        match port.receive(DRAIN_POLL) {
            Ok(Some(frame)) => {
                received.fetch_add(1, Ordering::Relaxed);
                if let Some(reply) = answer(&frame) {
                    // A failed answer only costs the router a retry.
                    let _ = port.send(&reply);
                }
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
