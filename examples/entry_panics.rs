//! `#[greenshim::main]` whose body panics: the process exits as a plain `main` that panics does
//! (status 101, the message on stderr). Run by `tests/macros.rs`.

#[greenshim::main]
fn main() {
    // A patched sleep: the body really runs on a green thread.
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert!(greenshim::runtime::is_started());
    panic!("boom from main");
}
