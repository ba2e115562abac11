//! With the stack arena, spawning past its size is an error that names the arena and its
//! setting (never may's raw panic, never a fallback that eats the process's mapping budget);
//! freeing green threads makes spawning work again.

mod util;

use greenshim::runtime::{self, StackMode};

#[test]
fn spawning_past_a_full_arena_is_a_clear_error() {
    // One chunk: 1 GiB of 68 KiB slots (64 KiB stacks and their guards).
    runtime::Config::new().stack_arena(1 << 30).apply().unwrap();
    util::workers(1);
    if runtime::stack_mode() != StackMode::Arena {
        eprintln!("skipped: stacks are {:?} here", runtime::stack_mode());
        return;
    }
    let slots = (1usize << 30) / (64 * 1024 + 4096);
    let maps_before = greenshim_shim::sys::current_map_count().unwrap();
    let parked = util::spawn_until_out_of_stacks(slots, "GREENSHIM_STACK_ARENA");
    // may's pool holds ready-made stacks from the same arena.
    assert!(
        parked.len() + 1100 >= slots,
        "failed after {}",
        parked.len()
    );
    // No stack went to a mapping of its own.
    let maps = greenshim_shim::sys::current_map_count().unwrap();
    assert!(maps < maps_before + 50, "{maps_before} -> {maps} mappings");
    util::release_and_spawn_again(&parked);
}
