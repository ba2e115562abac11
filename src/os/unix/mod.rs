//! Mirrors of `std::os::unix` items: [`net`].

pub mod net;
