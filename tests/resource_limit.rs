//! Spawning past the stack budget derived from `vm.max_map_count` is an error that names the
//! limit and the fix, never may's raw "failed to alloc sys stack" panic; the infallible `spawn`
//! panics with the same message; freeing green threads makes spawning work again.

mod util;

use std::time::Duration;

use greenshim::Builder;

#[test]
fn spawning_past_the_mapping_limit_is_a_clear_error() {
    util::workers(1);
    let budget = greenshim::runtime::stack_budget();
    assert!(
        budget > 1000 && budget < 1_000_000,
        "budget {budget} implausible for this test"
    );
    let mut parked = Vec::with_capacity(budget + 16);
    let err = loop {
        match Builder::new().spawn(|| greenshim::sleep(Duration::from_secs(3600))) {
            Ok(h) => parked.push(h),
            Err(e) => break e,
        }
        assert!(
            parked.len() <= budget + 8,
            "no error after {} spawns",
            parked.len()
        );
    };
    assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
    let msg = err.to_string();
    assert!(msg.contains("vm.max_map_count"), "{msg}");
    assert!(msg.contains("sysctl -w vm.max_map_count="), "{msg}");
    // The infallible form panics with the same message.
    let panic = std::panic::catch_unwind(|| greenshim::spawn(|| ())).unwrap_err();
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("vm.max_map_count"), "{text}");
    // Release them all; spawning works again.
    greenshim::killall(&parked);
    util::eventually(Duration::from_secs(30), "stacks released", || {
        greenshim::live_count() < 10
    });
    assert_eq!(greenshim::spawn(|| 3).join().unwrap(), 3);
}
