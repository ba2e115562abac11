//! The rule that keeps greenshim's thread-locals safe from green threads that move between
//! workers: `thread_local!` appears only inside `shim/src/oslocal.rs`, whose accessors are
//! never inlined (see that module). A `thread_local!` written anywhere else in greenshim's
//! source could be read through an address LLVM computed on the worker the green thread left.

use std::path::Path;

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn thread_locals_are_declared_only_through_oslocal() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "shim/src", "macros/src"] {
        sources(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let allowed = root.join("shim/src/oslocal.rs");
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && code.contains("thread_local!") && *file != allowed {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, code));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "declare thread-locals with greenshim_shim::os_local! instead:\n{}",
        offenders.join("\n")
    );
    // The rule's own module still declares through `thread_local!` (the scan sees it).
    let own = std::fs::read_to_string(&allowed).expect("read oslocal.rs");
    assert!(own.contains("::std::thread_local!"));
}
