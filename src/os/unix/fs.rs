//! Mirror of [`std::os::unix::fs`]: its free functions run on the offload pool, as
//! [`crate::fs`]'s do, and its extension traits are std's own (greenshim's `File`,
//! `OpenOptions`, `DirBuilder` and `DirEntry` implement them; `Metadata`, `Permissions` and
//! `FileType` are std's types).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

use greenshim_shim::offload;

pub use std::os::unix::fs::{
    DirBuilderExt, DirEntryExt, FileExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt,
};

/// Creates a symbolic link; mirrors [`std::os::unix::fs::symlink`].
pub fn symlink<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    offload::run(|| std::os::unix::fs::symlink(original, link))
}

/// Changes a path's owner and group; mirrors [`std::os::unix::fs::chown`].
pub fn chown<P: AsRef<Path>>(path: P, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let path = path.as_ref();
    offload::run(|| std::os::unix::fs::chown(path, uid, gid))
}

/// Changes a symbolic link's own owner and group; mirrors [`std::os::unix::fs::lchown`].
pub fn lchown<P: AsRef<Path>>(path: P, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let path = path.as_ref();
    offload::run(|| std::os::unix::fs::lchown(path, uid, gid))
}

/// Changes an open file's owner and group; mirrors [`std::os::unix::fs::fchown`].
pub fn fchown<F: AsFd>(fd: F, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let raw = fd.as_fd().as_raw_fd();
    offload::run(|| {
        // SAFETY: `fd` is borrowed for this whole call, which waits for the offloaded job.
        let fd = unsafe { BorrowedFd::borrow_raw(raw) };
        std::os::unix::fs::fchown(fd, uid, gid)
    })
}

/// Changes the root directory of the process; mirrors [`std::os::unix::fs::chroot`].
pub fn chroot<P: AsRef<Path>>(dir: P) -> io::Result<()> {
    let dir = dir.as_ref();
    offload::run(|| std::os::unix::fs::chroot(dir))
}
