//! Builds `c/legacy.c` and `c/locks.c` the way distributions build C libraries: `-O2 -D_FORTIFY_SOURCE=2`, so
//! its `read`, `recv` and `poll` calls become `__read_chk`, `__recv_chk` and `__poll_chk`.

fn main() {
    println!("cargo::rerun-if-changed=c/legacy.c");
    println!("cargo::rerun-if-changed=c/locks.c");
    cc::Build::new()
        .file("c/legacy.c")
        .file("c/locks.c")
        .opt_level(2)
        .flag("-U_FORTIFY_SOURCE")
        .define("_FORTIFY_SOURCE", "2")
        .warnings(true)
        .compile("greenshim_legacy_c");
}
