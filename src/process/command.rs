//! [`Command`], the mirror of [`std::process::Command`].

use std::ffi::OsStr;
use std::io;
use std::path::Path;

use greenshim_shim::offload;

use super::{Child, CommandArgs, CommandEnvs, ExitStatus, Output, Stdio};

/// A process builder; mirrors [`std::process::Command`].
pub struct Command {
    inner: std::process::Command,
    /// Which streams the user configured; `output` gives the others std's defaults.
    set: [bool; 3],
}

impl Command {
    /// Mirrors [`std::process::Command::new`].
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        std::process::Command::new(program).into()
    }

    /// Mirrors [`std::process::Command::arg`].
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Mirrors [`std::process::Command::args`].
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Mirrors [`std::process::Command::env`].
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.inner.env(key, val);
        self
    }

    /// Mirrors [`std::process::Command::envs`].
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Mirrors [`std::process::Command::env_remove`].
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Mirrors [`std::process::Command::env_clear`].
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Mirrors [`std::process::Command::current_dir`].
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Mirrors [`std::process::Command::stdin`].
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdin(cfg);
        self.set[0] = true;
        self
    }

    /// Mirrors [`std::process::Command::stdout`].
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdout(cfg);
        self.set[1] = true;
        self
    }

    /// Mirrors [`std::process::Command::stderr`].
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stderr(cfg);
        self.set[2] = true;
        self
    }

    /// Starts the child; mirrors [`std::process::Command::spawn`]. From a green thread the
    /// fork and exec run on the offload pool.
    pub fn spawn(&mut self) -> io::Result<Child> {
        let inner = &mut self.inner;
        offload::run(|| inner.spawn()).map(Child::from)
    }

    /// Runs the child to completion, capturing stdout and stderr (stdin is empty unless set);
    /// mirrors [`std::process::Command::output`]. The green thread parks while it runs.
    pub fn output(&mut self) -> io::Result<Output> {
        let [stdin, stdout, stderr] = self.set;
        if !stdin {
            self.inner.stdin(Stdio::null());
        }
        if !stdout {
            self.inner.stdout(Stdio::piped());
        }
        if !stderr {
            self.inner.stderr(Stdio::piped());
        }
        let child = self.spawn();
        // Back to the defaults of `spawn` and `status`, which inherit.
        for (i, was_set) in self.set.iter().enumerate() {
            if !was_set {
                match i {
                    0 => self.inner.stdin(Stdio::inherit()),
                    1 => self.inner.stdout(Stdio::inherit()),
                    _ => self.inner.stderr(Stdio::inherit()),
                };
            }
        }
        child?.wait_with_output()
    }

    /// Runs the child to completion with inherited streams; mirrors
    /// [`std::process::Command::status`]. The green thread parks while it runs.
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// Mirrors [`std::process::Command::get_program`].
    pub fn get_program(&self) -> &OsStr {
        self.inner.get_program()
    }

    /// Mirrors [`std::process::Command::get_args`].
    pub fn get_args(&self) -> CommandArgs<'_> {
        self.inner.get_args()
    }

    /// Mirrors [`std::process::Command::get_envs`].
    pub fn get_envs(&self) -> CommandEnvs<'_> {
        self.inner.get_envs()
    }

    /// Mirrors [`std::process::Command::get_current_dir`].
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.inner.get_current_dir()
    }

    /// Sets the child's user id; mirrors `std::os::unix::process::CommandExt::uid`.
    pub fn uid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::uid(&mut self.inner, id);
        self
    }

    /// Sets the child's group id; mirrors `std::os::unix::process::CommandExt::gid`.
    pub fn gid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::gid(&mut self.inner, id);
        self
    }

    /// Puts the child in process group `pgroup`; mirrors
    /// `std::os::unix::process::CommandExt::process_group`.
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        std::os::unix::process::CommandExt::process_group(&mut self.inner, pgroup);
        self
    }

    /// Sets the child's `argv[0]`; mirrors `std::os::unix::process::CommandExt::arg0`.
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        std::os::unix::process::CommandExt::arg0(&mut self.inner, arg);
        self
    }

    /// Runs `f` in the child between fork and exec; mirrors
    /// `std::os::unix::process::CommandExt::pre_exec`.
    ///
    /// # Safety
    /// As std's: `f` runs in a forked child of a multi-threaded process and may only do what
    /// is async-signal-safe there.
    pub unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: the caller upholds pre_exec's contract, which is std's.
        unsafe { std::os::unix::process::CommandExt::pre_exec(&mut self.inner, f) };
        self
    }

    /// Replaces this process with the command; returns only on error. Mirrors
    /// `std::os::unix::process::CommandExt::exec`.
    pub fn exec(&mut self) -> io::Error {
        std::os::unix::process::CommandExt::exec(&mut self.inner)
    }

    /// The std command inside.
    pub fn as_std(&self) -> &std::process::Command {
        &self.inner
    }

    /// The std command inside, for settings this mirror does not wrap.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }
}

impl From<std::process::Command> for Command {
    /// Wraps a std command. Streams it already configured count as configured for `output`
    /// only if set through this wrapper; set them here if `output` must respect them.
    fn from(inner: std::process::Command) -> Self {
        Command {
            inner,
            set: [false; 3],
        }
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}
