//! A mirror of [`std::fs`] whose calls do not stall the worker.
//!
//! The kernel cannot wait for regular files with epoll, so on a green thread every call that
//! can block runs on greenshim's offload pool while the green thread parks: opening (a FIFO
//! with no writer blocks in `open`), metadata, directory operations, `sync_all`, locks. Reads
//! and writes first try the page cache without waiting (`preadv2`/`pwritev2` with
//! `RWF_NOWAIT`) and go to the pool only when that would mean waiting for the disk. Outside
//! green threads every call runs inline, exactly as std's.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("greenshim-fs-doc-{}", std::process::id()));
//! greenshim::spawn({
//!     let dir = dir.clone();
//!     move || -> std::io::Result<()> {
//!         greenshim::fs::create_dir_all(&dir)?;
//!         greenshim::fs::write(dir.join("a.txt"), "hello")?;
//!         assert_eq!(greenshim::fs::read_to_string(dir.join("a.txt"))?, "hello");
//!         greenshim::fs::remove_dir_all(&dir)
//!     }
//! })
//! .join()
//! .unwrap()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Differences from std
//! - A green thread that is killed or timed out while its call runs on the pool finishes the
//!   call first (the pool thread cannot be interrupted); the kill takes effect at its next
//!   park.
//! - `Metadata`, `Permissions`, `FileType`, `FileTimes` and `TryLockError` are std's own types.

mod dir;
mod file;
mod open_options;

pub use std::fs::{FileTimes, FileType, Metadata, Permissions, TryLockError};

pub use dir::{DirBuilder, DirEntry, ReadDir};
pub use file::File;
pub use open_options::OpenOptions;

use std::io;
use std::path::{Path, PathBuf};

use greenshim_shim::offload;

/// Reads a whole file; mirrors [`std::fs::read`].
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    offload::run(|| std::fs::read(path))
}

/// Reads a whole file as UTF-8; mirrors [`std::fs::read_to_string`].
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    let path = path.as_ref();
    offload::run(|| std::fs::read_to_string(path))
}

/// Writes a whole file; mirrors [`std::fs::write`].
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let (path, contents) = (path.as_ref(), contents.as_ref());
    offload::run(|| std::fs::write(path, contents))
}

/// Copies a file's contents and permissions; mirrors [`std::fs::copy`].
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    let (from, to) = (from.as_ref(), to.as_ref());
    offload::run(|| std::fs::copy(from, to))
}

/// Renames a file or directory; mirrors [`std::fs::rename`].
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    offload::run(|| std::fs::rename(from, to))
}

/// Removes a file; mirrors [`std::fs::remove_file`].
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    offload::run(|| std::fs::remove_file(path))
}

/// Removes an empty directory; mirrors [`std::fs::remove_dir`].
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    offload::run(|| std::fs::remove_dir(path))
}

/// Removes a directory and everything in it; mirrors [`std::fs::remove_dir_all`].
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    offload::run(|| std::fs::remove_dir_all(path))
}

/// Creates a directory; mirrors [`std::fs::create_dir`].
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    offload::run(|| std::fs::create_dir(path))
}

/// Creates a directory and its missing parents; mirrors [`std::fs::create_dir_all`].
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    offload::run(|| std::fs::create_dir_all(path))
}

/// Iterates over a directory; mirrors [`std::fs::read_dir`].
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let path = path.as_ref();
    offload::run(|| std::fs::read_dir(path)).map(ReadDir::new)
}

/// Metadata, following symlinks; mirrors [`std::fs::metadata`].
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = path.as_ref();
    offload::run(|| std::fs::metadata(path))
}

/// Metadata of the link itself; mirrors [`std::fs::symlink_metadata`].
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = path.as_ref();
    offload::run(|| std::fs::symlink_metadata(path))
}

/// The canonical absolute path; mirrors [`std::fs::canonicalize`].
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = path.as_ref();
    offload::run(|| std::fs::canonicalize(path))
}

/// Creates a hard link; mirrors [`std::fs::hard_link`].
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    offload::run(|| std::fs::hard_link(original, link))
}

/// Reads a symbolic link; mirrors [`std::fs::read_link`].
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = path.as_ref();
    offload::run(|| std::fs::read_link(path))
}

/// Changes permissions; mirrors [`std::fs::set_permissions`].
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref();
    offload::run(|| std::fs::set_permissions(path, perm))
}

/// Whether a path exists (an error when that cannot be determined); mirrors
/// [`std::fs::exists`].
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    let path = path.as_ref();
    offload::run(|| std::fs::exists(path))
}
