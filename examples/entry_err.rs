//! `#[greenshim::main]` returning `Err`: printed as `Error: …` and exit status 1, as a plain
//! `main` does. Run by `tests/macros.rs`.

#[greenshim::main(workers = 1, patch = false)]
fn main() -> Result<(), String> {
    if greenshim::runtime::settings().workers != 1 {
        return Ok(());
    }
    Err("bad input".to_owned())
}
