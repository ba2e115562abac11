//! Patching after green threads started is refused, loudly, and patches nothing.

use std::time::Duration;

use greenshim::monkey::{self, Family, PatchError};

#[test]
fn a_late_patch_is_an_error_and_changes_nothing() {
    let sleeper = greenshim::spawn(|| greenshim::sleep(Duration::from_millis(200)));
    let err = monkey::patch_all().unwrap_err();
    assert!(matches!(err, PatchError::Late { live_green_threads } if live_green_threads >= 1));
    assert!(err.to_string().contains("before the first spawn"), "{err}");
    assert!(!monkey::is_patched(Family::Sleep));
    assert!(!monkey::is_patched(Family::Dns));
    sleeper.join().unwrap();
    // With every green thread gone, patching works (and unpatching restores libc).
    monkey::patch_all().unwrap();
    assert!(monkey::is_patched(Family::Sleep));
    monkey::unpatch_all();
    assert!(!monkey::is_patched(Family::Sleep));
}
