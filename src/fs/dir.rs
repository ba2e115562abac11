//! Directories: [`ReadDir`], [`DirEntry`], [`DirBuilder`].

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use greenshim_shim::offload;

use super::{FileType, Metadata};

/// Entries fetched per trip to the offload pool.
const CHUNK: usize = 128;

/// Iterator over a directory's entries; mirrors [`std::fs::ReadDir`]. Entries are fetched from
/// the kernel in chunks on the offload pool.
#[derive(Debug)]
pub struct ReadDir {
    inner: Option<std::fs::ReadDir>,
    ready: VecDeque<io::Result<std::fs::DirEntry>>,
}

impl ReadDir {
    pub(super) fn new(inner: std::fs::ReadDir) -> Self {
        ReadDir {
            inner: Some(inner),
            ready: VecDeque::new(),
        }
    }
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        if self.ready.is_empty() {
            let inner = self.inner.as_mut()?;
            let (chunk, done) = offload::run(|| {
                let chunk: VecDeque<_> = inner.by_ref().take(CHUNK).collect();
                let done = chunk.len() < CHUNK;
                (chunk, done)
            });
            self.ready = chunk;
            if done {
                self.inner = None;
            }
        }
        self.ready.pop_front().map(|r| r.map(DirEntry))
    }
}

/// One directory entry; mirrors [`std::fs::DirEntry`].
#[derive(Debug)]
pub struct DirEntry(std::fs::DirEntry);

impl DirEntry {
    /// The entry's full path; mirrors [`std::fs::DirEntry::path`].
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's metadata (not following a symlink); mirrors
    /// [`std::fs::DirEntry::metadata`].
    pub fn metadata(&self) -> io::Result<Metadata> {
        let entry = &self.0;
        offload::run(|| entry.metadata())
    }

    /// The entry's file type; mirrors [`std::fs::DirEntry::file_type`].
    pub fn file_type(&self) -> io::Result<FileType> {
        let entry = &self.0;
        offload::run(|| entry.file_type())
    }

    /// The entry's file name; mirrors [`std::fs::DirEntry::file_name`].
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }
}

impl std::os::unix::fs::DirEntryExt for DirEntry {
    fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&self.0)
    }
}

/// Creates directories; mirrors [`std::fs::DirBuilder`].
#[derive(Debug)]
pub struct DirBuilder(std::fs::DirBuilder);

impl DirBuilder {
    /// Mirrors [`std::fs::DirBuilder::new`].
    #[allow(clippy::new_without_default)] // std's DirBuilder has no Default either
    pub fn new() -> Self {
        DirBuilder(std::fs::DirBuilder::new())
    }

    /// Mirrors [`std::fs::DirBuilder::recursive`].
    pub fn recursive(&mut self, recursive: bool) -> &mut Self {
        self.0.recursive(recursive);
        self
    }

    /// Creates `path`; mirrors [`std::fs::DirBuilder::create`].
    pub fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let (builder, path) = (&self.0, path.as_ref());
        offload::run(|| builder.create(path))
    }
}

impl std::os::unix::fs::DirBuilderExt for DirBuilder {
    fn mode(&mut self, mode: u32) -> &mut Self {
        self.0.mode(mode);
        self
    }
}
