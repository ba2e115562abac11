//! System facts the runtime needs: the kernel's memory-mapping limit and the process's current
//! number of mappings. Each green thread's stack is one mapping plus one guard-page mapping, so
//! these two numbers bound how many green threads can be alive at once.

use std::fs;
use std::io;

/// Where the kernel publishes the per-process mapping limit.
pub const MAX_MAP_COUNT_PATH: &str = "/proc/sys/vm/max_map_count";

/// The kernel's per-process limit on memory mappings (`vm.max_map_count`).
pub fn max_map_count() -> io::Result<usize> {
    let text = fs::read_to_string(MAX_MAP_COUNT_PATH)?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{MAX_MAP_COUNT_PATH}: {e}")))
}

/// Number of memory mappings this process has now (lines of `/proc/self/maps`).
pub fn current_map_count() -> io::Result<usize> {
    let text = fs::read("/proc/self/maps")?;
    Ok(text.iter().filter(|&&b| b == b'\n').count())
}

/// Raises `vm.max_map_count` to at least `wanted` (needs root). Returns the value in force after
/// the call.
pub fn raise_max_map_count(wanted: usize) -> io::Result<usize> {
    let now = max_map_count()?;
    if now >= wanted {
        return Ok(now);
    }
    fs::write(MAX_MAP_COUNT_PATH, format!("{wanted}\n"))?;
    max_map_count()
}
