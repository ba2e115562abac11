//! Mirrors of `std::os` items: [`unix::net`], [`unix::process`].

pub mod unix;
