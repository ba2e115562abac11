//! [`File`], the mirror of [`std::fs::File`].

use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::SystemTime;

use greenshim_shim::offload;
use greenshim_shim::park::context::on_green_thread;
use greenshim_shim::sys::file as sys;

use super::{FileTimes, Metadata, OpenOptions, Permissions, TryLockError};

/// An open file; mirrors [`std::fs::File`].
///
/// On a green thread, a read or write is first tried without waiting for the disk (served
/// from, or into, the page cache); only if that would wait does it go to the offload pool.
/// Seeking and the `try_lock` family never block and run inline; everything else that can
/// block runs on the pool.
pub struct File(std::fs::File);

impl File {
    /// Opens a file for reading; mirrors [`std::fs::File::open`].
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Creates or truncates a file for writing; mirrors [`std::fs::File::create`].
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Creates a new file, failing if it exists; mirrors [`std::fs::File::create_new`].
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    /// Options for opening a file; mirrors [`std::fs::File::options`].
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Flushes data and metadata to the device; mirrors [`std::fs::File::sync_all`].
    pub fn sync_all(&self) -> io::Result<()> {
        let f = &self.0;
        offload::run(|| f.sync_all())
    }

    /// Flushes data to the device; mirrors [`std::fs::File::sync_data`].
    pub fn sync_data(&self) -> io::Result<()> {
        let f = &self.0;
        offload::run(|| f.sync_data())
    }

    /// Blocks (parks) until an exclusive lock is held; mirrors [`std::fs::File::lock`].
    pub fn lock(&self) -> io::Result<()> {
        let f = &self.0;
        offload::run(|| f.lock())
    }

    /// Blocks (parks) until a shared lock is held; mirrors [`std::fs::File::lock_shared`].
    pub fn lock_shared(&self) -> io::Result<()> {
        let f = &self.0;
        offload::run(|| f.lock_shared())
    }

    /// Takes an exclusive lock if free; mirrors [`std::fs::File::try_lock`].
    pub fn try_lock(&self) -> Result<(), TryLockError> {
        self.0.try_lock()
    }

    /// Takes a shared lock if free; mirrors [`std::fs::File::try_lock_shared`].
    pub fn try_lock_shared(&self) -> Result<(), TryLockError> {
        self.0.try_lock_shared()
    }

    /// Releases a lock; mirrors [`std::fs::File::unlock`].
    pub fn unlock(&self) -> io::Result<()> {
        self.0.unlock()
    }

    /// Truncates or extends; mirrors [`std::fs::File::set_len`].
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        let f = &self.0;
        offload::run(|| f.set_len(size))
    }

    /// The file's metadata; mirrors [`std::fs::File::metadata`].
    pub fn metadata(&self) -> io::Result<Metadata> {
        let f = &self.0;
        offload::run(|| f.metadata())
    }

    /// A second handle to the same open file; mirrors [`std::fs::File::try_clone`].
    pub fn try_clone(&self) -> io::Result<File> {
        self.0.try_clone().map(File)
    }

    /// Changes permissions; mirrors [`std::fs::File::set_permissions`].
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        let f = &self.0;
        offload::run(|| f.set_permissions(perm))
    }

    /// Sets access and modification times; mirrors [`std::fs::File::set_times`].
    pub fn set_times(&self, times: FileTimes) -> io::Result<()> {
        let f = &self.0;
        offload::run(|| f.set_times(times))
    }

    /// Sets the modification time; mirrors [`std::fs::File::set_modified`].
    pub fn set_modified(&self, time: SystemTime) -> io::Result<()> {
        let f = &self.0;
        offload::run(|| f.set_modified(time))
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let f = &self.0;
        if on_green_thread() {
            if let Some(n) = sys::read_nowait(f.as_raw_fd(), buf)? {
                return Ok(n);
            }
            return offload::run(|| (&*f).read(buf));
        }
        (&*f).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let f = &self.0;
        offload::run(|| (&*f).read_vectored(bufs))
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let f = &self.0;
        offload::run(|| (&*f).read_to_end(buf))
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let f = &self.0;
        offload::run(|| (&*f).read_to_string(buf))
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = &self.0;
        if on_green_thread() {
            if let Some(n) = sys::write_nowait(f.as_raw_fd(), buf)? {
                return Ok(n);
            }
            return offload::run(|| (&*f).write(buf));
        }
        (&*f).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let f = &self.0;
        offload::run(|| (&*f).write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&self.0).seek(pos)
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

impl From<std::fs::File> for File {
    fn from(f: std::fs::File) -> Self {
        File(f)
    }
}

impl From<File> for std::fs::File {
    fn from(f: File) -> Self {
        f.0
    }
}

impl From<std::os::fd::OwnedFd> for File {
    fn from(fd: std::os::fd::OwnedFd) -> Self {
        File(fd.into())
    }
}

impl From<File> for std::os::fd::OwnedFd {
    fn from(f: File) -> Self {
        f.0.into()
    }
}

impl From<File> for std::process::Stdio {
    fn from(f: File) -> Self {
        f.0.into()
    }
}

impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl std::os::fd::FromRawFd for File {
    unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Self {
        // SAFETY: the caller hands over ownership of an open fd, as `FromRawFd` requires.
        File(unsafe { std::fs::File::from_raw_fd(fd) })
    }
}

impl std::os::fd::IntoRawFd for File {
    fn into_raw_fd(self) -> std::os::fd::RawFd {
        self.0.into_raw_fd()
    }
}

impl std::os::unix::fs::FileExt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let f = &self.0;
        offload::run(|| f.read_at(buf, offset))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let f = &self.0;
        offload::run(|| f.write_at(buf, offset))
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
