//! Runtime configuration and lazy start-up.
//!
//! may reads its configuration once, when its scheduler starts, so greenshim resolves its own
//! settings first and hands them to may exactly once, on the first greenshim call that needs the
//! scheduler. Settings come from three places, later ones winning:
//!
//! 1. built-in defaults (see [`Settings`] for why each default is what it is);
//! 2. environment variables, read once at start-up:
//!
//!    | variable | meaning | example |
//!    |---|---|---|
//!    | `GREENSHIM_WORKERS` | worker OS threads running green threads (`0` = default) | `1` |
//!    | `GREENSHIM_STACK_SIZE` | stack size of each green thread, bytes (`k`/`m` suffix allowed) | `128k` |
//!    | `GREENSHIM_STACK_POOL` | number of ready-made stacks kept for reuse | `4000` |
//!    | `GREENSHIM_STACK_ARENA` | most address space the stack arena reserves (`0` = one mapping per stack) | `64g` |
//!    | `GREENSHIM_STACK_WARM` | bytes of freed stacks kept resident for reuse | `128m` |
//!    | `GREENSHIM_PIN` | pin worker `i` to core `i` (`1`/`0`) | `0` |
//!    | `GREENSHIM_OFFLOAD_THREADS` | most offload-pool threads alive at once | `512` |
//!
//! 3. [`Config`], applied before the first green thread starts.

use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::sys;

/// Bytes in a machine word; may counts stack sizes in words.
const WORD: usize = std::mem::size_of::<usize>();
/// Stack sizes are rounded up to whole pages (this also keeps may's word count even: an odd
/// count makes may print stack usage at every green thread's exit).
const PAGE: usize = 4096;
/// Smallest stack greenshim accepts: the green-thread entry code, a park and a panic unwind
/// need more than this.
pub const MIN_STACK_SIZE: usize = 16 * 1024;
/// Largest stack greenshim accepts.
pub const MAX_STACK_SIZE: usize = 1 << 30;
/// Memory mappings left for everything that is not a green-thread stack (malloc arenas,
/// thread stacks, libraries) when greenshim budgets stacks against `vm.max_map_count`.
const MAP_RESERVE: usize = 2048;
/// Kernel mappings per green-thread stack: the stack and its guard page.
pub const MAPS_PER_STACK: usize = 2;

/// Resolved runtime settings, as in force once the runtime has started.
///
/// # Defaults, and why
///
/// - `workers`: the number of CPUs (`std::thread::available_parallelism`). Green threads that
///   compute need every core. On a 2-core machine that also runs the load generator, one
///   worker echoes a little faster (W4 at 50 connections, medians of 5 runs: 139k req/s with 1
///   worker, 131k with 2; README, performance section), because the second worker competes
///   with the load generator for the other core.
/// - `pin = false`. may pins worker `i` to core `i` by default. Pinned, a worker cannot move
///   off the core the load generator is using; W4 with 2 workers on 2 cores (medians of 3
///   alternating runs): 99k req/s pinned against 107k unpinned at 50 connections, 75k against
///   76k at 1 000.
/// - `stack_size = 64 KiB`. A stack costs the same resident memory whatever its size (two
///   touched pages, about 8 KiB, until code actually uses more), so a roomier default is free
///   and makes overflow of ordinary std code (formatting, panics with backtraces) unlikely.
/// - `offload_threads = 512`: blocking jobs (file I/O, DNS, `fsync`) mostly wait on the kernel,
///   not the CPU, so many can usefully run at once; idle threads exit after 5 s.
/// - `stack_pool = 1000`: may's default; may keeps that many finished green threads ready
///   (stack and registers prepared) for the next spawn.
/// - `stack_arena = 256 GiB` of address space (see [`crate::stacks`]). A live green thread
///   keeps at least two pages of its stack resident (9.0 KiB per sleeper measured with its
///   heap, README), so 256 GiB of 68 KiB slots (64 KiB stacks and their guards) hold 3.9
///   million green threads, 35 GiB of memory: on machines with less memory, memory runs out
///   before the arena does. The reservation is taken 1 GiB at a time as green threads need it,
///   and costs no memory until stacks touch it.
/// - `stack_warm = 64 MiB`: freed stacks, counted at their full size, kept resident for
///   reuse without a system call or page fault (about 960 default stacks; beyond the pool,
///   they serve the next burst of spawns). Stacks freed past it go back to the kernel once
///   they have been unused for a second. Measured with bursts of 100 000 green threads alive
///   at once, 2.5 s apart (`cargo bench --bench w1_spawn_join -- --n 100000 --bursts 3
///   --idle-ms 2500 --hold-ms 300`, two runs each): 1 GiB kept 211–218 MB resident between
///   bursts against 90–98 MB for 64 MiB (and for 0), and the next burst's spawns were no
///   faster (5.5–7.5 µs against 6.2–7.7 µs a spawn, within run-to-run noise): a larger warm
///   size holds memory for no gain that shows, and 64 MiB keeps the cost of small bursts off
///   the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Worker OS threads that run green threads.
    pub workers: usize,
    /// Stack size of a green thread, in bytes (a whole number of pages).
    pub stack_size: usize,
    /// Ready-made stacks kept for reuse.
    pub stack_pool: usize,
    /// Most address space the stack arena reserves, bytes (0: one mapping per stack).
    pub stack_arena: usize,
    /// Bytes of freed stacks kept resident for reuse.
    pub stack_warm: usize,
    /// Whether worker `i` is pinned to core `i`.
    pub pin: bool,
    /// The most offload-pool threads alive at once.
    pub offload_threads: usize,
}

impl Settings {
    fn defaults() -> Self {
        Settings {
            workers: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            stack_size: 64 * 1024,
            stack_pool: 1000,
            stack_arena: 256 << 30,
            stack_warm: 64 << 20,
            pin: false,
            offload_threads: 512,
        }
    }
}

/// Runtime configuration set through the API; fields left unset keep the environment's or the
/// default value.
///
/// ```
/// greenshim_shim::runtime::Config::new().workers(1).apply().unwrap();
/// assert_eq!(greenshim_shim::runtime::settings().workers, 1);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    workers: Option<usize>,
    stack_size: Option<usize>,
    stack_pool: Option<usize>,
    stack_arena: Option<usize>,
    stack_warm: Option<usize>,
    offload_threads: Option<usize>,
    pin: Option<bool>,
}

impl Config {
    /// A configuration that changes nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Worker OS threads that run green threads; `0` leaves the choice to `GREENSHIM_WORKERS`
    /// or the default.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// Stack size of each green thread in bytes, rounded up to whole pages.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// The most offload-pool threads alive at once (at least 1). Beyond it, blocking jobs
    /// queue for a free thread.
    pub fn offload_threads(mut self, n: usize) -> Self {
        self.offload_threads = Some(n.max(1));
        self
    }

    /// Number of ready-made stacks kept for reuse.
    pub fn stack_pool(mut self, n: usize) -> Self {
        self.stack_pool = Some(n);
        self
    }

    /// Most address space the stack arena may reserve, in bytes; `0` maps every stack on its
    /// own, as may does (see [`crate::stacks`]).
    pub fn stack_arena(mut self, bytes: usize) -> Self {
        self.stack_arena = Some(bytes);
        self
    }

    /// Bytes of freed stacks kept resident for reuse.
    pub fn stack_warm(mut self, bytes: usize) -> Self {
        self.stack_warm = Some(bytes);
        self
    }

    /// Pin worker `i` to core `i`.
    pub fn pin(mut self, pin: bool) -> Self {
        self.pin = Some(pin);
        self
    }

    /// Records this configuration for the start of the runtime.
    ///
    /// # Errors
    /// `InvalidInput` for a stack size outside [`MIN_STACK_SIZE`]..=[`MAX_STACK_SIZE`];
    /// `Other` if the runtime has already started (its settings can no longer change).
    pub fn apply(self) -> io::Result<()> {
        if let Some(bytes) = self.stack_size {
            check_stack_size(bytes)?;
        }
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        if STARTED.get().is_some() {
            return Err(io::Error::other(
                "greenshim: the runtime has already started; apply its Config before the first \
                 green thread is spawned",
            ));
        }
        let merged = Config {
            workers: self.workers.or(pending.workers),
            stack_size: self.stack_size.or(pending.stack_size),
            stack_pool: self.stack_pool.or(pending.stack_pool),
            stack_arena: self.stack_arena.or(pending.stack_arena),
            stack_warm: self.stack_warm.or(pending.stack_warm),
            offload_threads: self.offload_threads.or(pending.offload_threads),
            pin: self.pin.or(pending.pin),
        };
        *pending = merged;
        Ok(())
    }
}

fn check_stack_size(bytes: usize) -> io::Result<usize> {
    if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&bytes) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "greenshim: stack size {bytes} bytes is outside {MIN_STACK_SIZE}..={MAX_STACK_SIZE}"
            ),
        ));
    }
    Ok(bytes.div_ceil(PAGE) * PAGE)
}

/// Converts a stack size in bytes (validated, page-rounded) into may's unit, words.
pub fn stack_words(bytes: usize) -> io::Result<usize> {
    Ok(check_stack_size(bytes)? / WORD)
}

static PENDING: Mutex<Config> = Mutex::new(Config {
    workers: None,
    stack_size: None,
    stack_pool: None,
    stack_arena: None,
    stack_warm: None,
    offload_threads: None,
    pin: None,
});
static STARTED: OnceLock<Settings> = OnceLock::new();
/// How many green-thread stacks may be alive at once before greenshim refuses to spawn.
static STACK_BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);

fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let (digits, mult) = match t.as_bytes().last()? {
        b'k' | b'K' => (&t[..t.len() - 1], 1024),
        b'm' | b'M' => (&t[..t.len() - 1], 1024 * 1024),
        b'g' | b'G' => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        _ => (t, 1),
    };
    digits.trim().parse::<usize>().ok()?.checked_mul(mult)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn env_value<T>(name: &str, parse: impl Fn(&str) -> Option<T>) -> io::Result<Option<T>> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(text) => parse(&text).map(Some).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("greenshim: {name}={text:?} is not valid"),
            )
        }),
    }
}

/// The configuration the environment variables ask for.
///
/// # Errors
/// `InvalidInput` naming the variable whose value does not parse.
pub fn env_config() -> io::Result<Config> {
    let stack_size = env_value("GREENSHIM_STACK_SIZE", parse_size)?;
    if let Some(bytes) = stack_size {
        check_stack_size(bytes)?;
    }
    Ok(Config {
        workers: env_value("GREENSHIM_WORKERS", |t| t.trim().parse().ok())?,
        stack_size,
        stack_pool: env_value("GREENSHIM_STACK_POOL", |t| t.trim().parse().ok())?,
        stack_arena: env_value("GREENSHIM_STACK_ARENA", parse_size)?,
        stack_warm: env_value("GREENSHIM_STACK_WARM", parse_size)?,
        pin: env_value("GREENSHIM_PIN", parse_bool)?,
        offload_threads: env_value("GREENSHIM_OFFLOAD_THREADS", |t| {
            t.trim().parse().ok().filter(|&n: &usize| n > 0)
        })?,
    })
}

fn resolve(env: Config) -> Settings {
    let api = *PENDING.lock().unwrap_or_else(|e| e.into_inner());
    merge(api, env, Settings::defaults())
}

/// The API's choices over the environment's over the defaults.
fn merge(api: Config, env: Config, d: Settings) -> Settings {
    // 0 means "not chosen here": an explicit 0 through the API leaves the variable in charge.
    let workers = api
        .workers
        .filter(|&n| n > 0)
        .or(env.workers.filter(|&n| n > 0))
        .unwrap_or(d.workers);
    let stack_size = api.stack_size.or(env.stack_size).unwrap_or(d.stack_size);
    Settings {
        workers,
        stack_size: check_stack_size(stack_size).unwrap_or(d.stack_size),
        stack_pool: api.stack_pool.or(env.stack_pool).unwrap_or(d.stack_pool),
        stack_arena: api.stack_arena.or(env.stack_arena).unwrap_or(d.stack_arena),
        stack_warm: api.stack_warm.or(env.stack_warm).unwrap_or(d.stack_warm),
        pin: api.pin.or(env.pin).unwrap_or(d.pin),
        offload_threads: api
            .offload_threads
            .or(env.offload_threads)
            .unwrap_or(d.offload_threads),
    }
}

fn start_with(env: Config) -> Settings {
    *STARTED.get_or_init(|| {
        let s = resolve(env);
        let may = may::config();
        may.set_workers(s.workers)
            .set_stack_size(s.stack_size / WORD)
            .set_pool_capacity(s.stack_pool)
            .set_worker_pin(s.pin);
        // The stack hooks must be linked, and the arena decided, before may builds its pool.
        crate::interpose::memory::keep_linked();
        // may's workers sleep in the `epoll_wait` interposer (see `park::wakeups`).
        crate::interpose::poll::keep_linked();
        let stacks = crate::stacks::configure(s.stack_arena, s.stack_warm);
        STACK_BUDGET.store(
            if stacks == crate::stacks::Mode::Arena {
                usize::MAX
            } else {
                stack_budget()
            },
            Ordering::Relaxed,
        );
        crate::park::context::install_panic_filter();
        let before = sys::thread_ids();
        crate::offload::set_max_threads(s.offload_threads);
        // The floors below call up into the reactors only through what is pushed down here.
        crate::park::waker::set_kicker(crate::fd::reactor::kick_idle);
        crate::park::timer::set_sysmon(crate::fd::reactor::sysmon_tick);
        // may's scheduler starts on its first use, here: its pool of ready-made stacks comes
        // from the arena, and its workers' wake-up eventfds are recorded for coalescing.
        crate::park::wakeups::recording(s.workers, || {
            crate::stacks::serving(|| {
                crate::fd::reactor::start(s.workers);
                // Force may's scheduler (its workers and timer thread) into existence now, so
                // the threads it starts are known to be the runtime's (the deadlock check
                // counts on it).
                // SAFETY: the closure touches no thread-local storage and returns at once.
                let first = unsafe { may::coroutine::spawn(|| ()) };
                // Its start installed the generator's fault handler; greenshim's overflow report
                // goes in front of it.
                let _ = first.join();
            });
        });
        if stacks == crate::stacks::Mode::Arena {
            crate::stacks::overflow::install();
        }
        // may created its timer thread and then worker 0, 1, … since `before` was taken, and
        // Linux hands out thread ids in creation order: sorted, the new ids say which is which.
        // They inherit this thread's name, which tells them from threads that other code
        // started meanwhile (a test harness starts its named test threads concurrently).
        let mine = sys::thread_name(sys::gettid());
        let mut may_threads: Vec<i32> = sys::thread_ids()
            .into_iter()
            .filter(|t| !before.contains(t) && sys::thread_name(*t) == mine)
            .collect();
        may_threads.sort_unstable();
        crate::monitor::note_runtime_threads(&may_threads, s.workers);
        name_may_threads(&may_threads);
        crate::monitor::enable_from_env();
        s
    })
}

/// Names may's threads (`tids`: its timer, then its workers in order), which inherit the name of
/// whichever thread started the runtime: `greenshim-mtime` and `greenshim-w0`, `greenshim-w1`,
/// …. A name that cannot be set is left as it is.
fn name_may_threads(tids: &[i32]) {
    for (i, tid) in tids.iter().enumerate() {
        let name = match i {
            0 => "greenshim-mtime".to_owned(),
            w => format!("greenshim-w{}", w - 1),
        };
        let _ = std::fs::write(format!("/proc/self/task/{tid}/comm"), name);
    }
}

/// How many stacks can be alive at once without crowding out the process's other mappings.
/// Read before may builds its stack pool: live green threads take their stacks from the pool
/// first, so the stacks mapped at any time number max(live, pool), and bounding the live count
/// by the free mappings bounds both.
fn stack_budget() -> usize {
    match (sys::max_map_count(), sys::current_map_count()) {
        (Ok(max), Ok(now)) => (max.saturating_sub(now + MAP_RESERVE) / MAPS_PER_STACK).max(1),
        _ => usize::MAX,
    }
}

/// Starts the runtime lazily: resolves and applies the settings on the first call, returns them
/// on every call. Invalid environment variables are reported on stderr once and ignored here;
/// call [`start`] to get them as an error instead.
pub fn ensure_started() -> Settings {
    if let Some(s) = STARTED.get() {
        return *s;
    }
    let env = env_config().unwrap_or_else(|e| {
        eprintln!("{e}; using the default instead");
        Config::new()
    });
    start_with(env)
}

/// Starts the runtime now, including may's scheduler and its stack pool, so that start-up cost
/// is not charged to the first spawn.
///
/// # Errors
/// `InvalidInput` if a `GREENSHIM_*` environment variable does not parse.
pub fn start() -> io::Result<Settings> {
    let s = match STARTED.get() {
        Some(s) => *s,
        None => start_with(env_config()?),
    };
    // SAFETY: the closure touches no thread-local storage and returns at once. Its stack comes
    // from the arena too (it may be a new one, and may's pool then keeps it for later spawns).
    let handle = crate::stacks::serving(|| unsafe { may::coroutine::spawn(|| ()) });
    handle
        .join()
        .map_err(|_| io::Error::other("greenshim: may's scheduler failed to start"))?;
    Ok(s)
}

/// Whether the runtime has started.
pub fn is_started() -> bool {
    STARTED.get().is_some()
}

/// The settings in force, starting the runtime if it has not started yet.
pub fn settings() -> Settings {
    ensure_started()
}

/// How many green threads may be alive at once before spawning returns an error; derived from
/// `vm.max_map_count` at start-up.
pub fn stack_budget_now() -> usize {
    ensure_started();
    STACK_BUDGET.load(Ordering::Relaxed)
}

/// The error for a spawn past the stack-mapping limit, naming the limit and the fix.
pub fn stack_limit_error(live: usize) -> io::Error {
    if crate::stacks::mode() == crate::stacks::Mode::Arena {
        let st = crate::stacks::stats();
        return io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "greenshim: cannot spawn another green thread: {live} are alive and the stack \
                 arena has no free slot: it has reserved {} MiB of the {} MiB it may \
                 (GREENSHIM_STACK_ARENA, Config::stack_arena), or the kernel refused more \
                 address space. Keep fewer green threads alive at once (for example with a \
                 Pool), or raise the arena size or the process's address-space limit.",
                st.reserved >> 20,
                settings().stack_arena >> 20,
            ),
        );
    }
    let max = sys::max_map_count().map_or_else(|_| "unknown".to_owned(), |m| m.to_string());
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "greenshim: cannot spawn another green thread: {live} are alive and each stack takes \
             {MAPS_PER_STACK} of the process's memory mappings, limited by vm.max_map_count = {max}. \
             Raise the limit (as root: `sysctl -w vm.max_map_count=262144`, about 4 mappings per \
             wanted green thread) or keep fewer green threads alive at once (for example with a Pool)."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("128k"), Some(128 * 1024));
        assert_eq!(parse_size(" 2M "), Some(2 * 1024 * 1024));
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn stack_sizes_round_to_pages_and_reject_extremes() {
        assert_eq!(
            check_stack_size(MIN_STACK_SIZE + 1).unwrap(),
            MIN_STACK_SIZE + PAGE
        );
        assert_eq!(
            check_stack_size(1024).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(stack_words(64 * 1024).unwrap() % 2, 0);
    }

    #[test]
    fn a_zero_worker_count_from_the_api_leaves_the_variable_in_charge() {
        let d = Settings::defaults();
        let env = Config::new().workers(3);
        assert_eq!(merge(Config::new().workers(0), env, d).workers, 3);
        assert_eq!(merge(Config::new().workers(5), env, d).workers, 5);
        assert_eq!(
            merge(Config::new(), Config::new().workers(0), d).workers,
            d.workers
        );
    }

    #[test]
    fn bools_parse() {
        assert_eq!(parse_bool("on"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
