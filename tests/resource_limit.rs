//! With one mapping per stack (the stack arena switched off, as on kernels without guard
//! regions), spawning past the stack budget derived from `vm.max_map_count` is an error that
//! names the limit and the fix, never may's raw "failed to alloc sys stack" panic; the
//! infallible `spawn` panics with the same message; freeing green threads makes spawning work
//! again.

mod util;

#[test]
fn spawning_past_the_mapping_limit_is_a_clear_error() {
    greenshim::runtime::Config::new()
        .stack_arena(0)
        .apply()
        .unwrap();
    util::workers(1);
    assert!(matches!(
        greenshim::runtime::stack_mode(),
        greenshim::runtime::StackMode::PerStack(_)
    ));
    let budget = greenshim::runtime::stack_budget();
    assert!(
        budget > 1000 && budget < 1_000_000,
        "budget {budget} implausible for this test"
    );
    let parked = util::spawn_until_out_of_stacks(budget + 8, "sysctl -w vm.max_map_count=");
    util::release_and_spawn_again(&parked);
}
