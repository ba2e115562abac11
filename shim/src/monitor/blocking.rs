//! The blocking detector: a watchdog thread that reports a green thread holding its worker
//! for longer than `max_blocking_time` without parking.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{BlockingReport, GreenThreadInfo, Report, State, report};
use crate::park::context::registry;
use crate::trace::{self, Slot};

/// Default `max_blocking_time`.
pub const DEFAULT_MAX_BLOCKING_TIME: Duration = Duration::from_millis(100);

static ENABLED: AtomicBool = AtomicBool::new(false);
static MAX_BLOCKING_NS: AtomicU64 = AtomicU64::new(100_000_000);
static WATCHDOG: OnceLock<()> = OnceLock::new();
static INCIDENTS: AtomicUsize = AtomicUsize::new(0);

/// Starts the blocking detector: a green thread that runs on one worker for longer than
/// `max_blocking_time` without parking is reported once, through [`report`]. Calling it again
/// changes the threshold.
pub fn enable(max_blocking_time: Duration) {
    let ns = u64::try_from(max_blocking_time.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1_000_000);
    MAX_BLOCKING_NS.store(ns, Ordering::Relaxed);
    trace::set_marking(true);
    ENABLED.store(true, Ordering::Release);
    WATCHDOG.get_or_init(|| {
        std::thread::Builder::new()
            .name("greenshim-watchdog".into())
            .spawn(watchdog)
            .map(drop)
            .unwrap_or_else(|e| eprintln!("greenshim: cannot start the blocking detector: {e}"));
    });
}

/// Stops reporting (the watchdog thread idles).
pub fn disable() {
    ENABLED.store(false, Ordering::Release);
    trace::set_marking(false);
}

/// Whether the blocking detector is on.
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Acquire)
}

/// The blocking detector's threshold.
pub fn max_blocking_time() -> Duration {
    Duration::from_nanos(MAX_BLOCKING_NS.load(Ordering::Relaxed))
}

/// Blocking incidents reported since start-up.
pub fn blocking_incidents() -> usize {
    INCIDENTS.load(Ordering::Relaxed)
}

/// Turns the detector on when `GREENSHIM_MONITOR` is `1`/`true`/`yes`/`on`, with
/// `GREENSHIM_MAX_BLOCKING_MS` as the threshold if set.
pub(crate) fn enable_from_env() {
    let on = std::env::var("GREENSHIM_MONITOR").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    });
    if on {
        let ms = std::env::var("GREENSHIM_MAX_BLOCKING_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        enable(ms.map_or(DEFAULT_MAX_BLOCKING_TIME, Duration::from_millis));
    }
}

/// What the watchdog last saw in one slot.
#[derive(Clone, Copy)]
struct Seen {
    switches: u64,
    current: u64,
    since: Instant,
    reported: bool,
}

fn watchdog() {
    let mut seen: Vec<Option<Seen>> = Vec::new();
    loop {
        let max = max_blocking_time();
        std::thread::sleep((max / 5).clamp(Duration::from_millis(2), Duration::from_millis(50)));
        if !is_enabled() {
            seen.clear();
            continue;
        }
        let now = Instant::now();
        for s in trace::slots() {
            if seen.len() <= s.index {
                seen.resize(s.index + 1, None);
            }
            let switches = s.switches.load(Ordering::Relaxed);
            let current = s.current.load(Ordering::Relaxed);
            let entry = &mut seen[s.index];
            match entry {
                Some(e) if e.switches == switches && e.current == current => {
                    if current != 0 && !e.reported && now - e.since >= max {
                        e.reported = true;
                        blocked(s, current, now - e.since);
                    }
                }
                _ => {
                    *entry = Some(Seen {
                        switches,
                        current,
                        since: now,
                        reported: false,
                    });
                }
            }
        }
    }
}

fn blocked(s: &Slot, id: u64, running_for: Duration) {
    let in_libc = s.libc_call();
    let ctx = registry::get(id);
    let state = State::Running { worker: s.index };
    let green_thread = GreenThreadInfo::new(id, ctx.as_deref(), state, in_libc);
    INCIDENTS.fetch_add(1, Ordering::Relaxed);
    report(Report::Blocking(BlockingReport {
        green_thread,
        worker: s.index,
        running_for,
        in_libc,
    }));
}
