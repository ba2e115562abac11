//! Mirrors of `std::os::unix` items: [`fs`], [`net`], [`process`] (its `CommandExt`).

pub mod fs;
pub mod net;
pub mod process;
