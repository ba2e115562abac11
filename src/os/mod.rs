//! Mirrors of `std::os` items: [`unix::net`].

pub mod unix;
