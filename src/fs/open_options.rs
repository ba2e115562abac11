//! [`OpenOptions`], the mirror of [`std::fs::OpenOptions`].

use std::io;
use std::path::Path;

use greenshim_shim::offload;

use super::File;

/// Options for opening a file; mirrors [`std::fs::OpenOptions`]. `open` runs on the offload
/// pool from a green thread (opening a FIFO waits for its other end).
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Nothing set; mirrors [`std::fs::OpenOptions::new`].
    #[allow(clippy::new_without_default)] // std's OpenOptions has no Default either
    pub fn new() -> Self {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Mirrors [`std::fs::OpenOptions::read`].
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.0.read(read);
        self
    }

    /// Mirrors [`std::fs::OpenOptions::write`].
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.0.write(write);
        self
    }

    /// Mirrors [`std::fs::OpenOptions::append`].
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.0.append(append);
        self
    }

    /// Mirrors [`std::fs::OpenOptions::truncate`].
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.0.truncate(truncate);
        self
    }

    /// Mirrors [`std::fs::OpenOptions::create`].
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.0.create(create);
        self
    }

    /// Mirrors [`std::fs::OpenOptions::create_new`].
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.0.create_new(create_new);
        self
    }

    /// Opens `path` with these options; mirrors [`std::fs::OpenOptions::open`].
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let (options, path) = (&self.0, path.as_ref());
        offload::run(|| options.open(path)).map(File::from)
    }
}

impl std::os::unix::fs::OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut Self {
        self.0.mode(mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.0.custom_flags(flags);
        self
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(o: std::fs::OpenOptions) -> Self {
        OpenOptions(o)
    }
}
