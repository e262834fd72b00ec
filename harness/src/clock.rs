//! Where the harness's times come from. The core never reads a clock; drivers stamp what they
//! observe with a [`Now`]: the wall clock for real endpoints, the simulation's virtual clock for
//! embedded runs.

use std::sync::Arc;
use std::time::SystemTime;

use cvnotify_core::lifecycle::Timestamp;

/// A source of "now".
pub type Now = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock, in milliseconds since the Unix epoch.
pub fn wall() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    )
}

/// The wall clock as a [`Now`].
pub fn wall_now() -> Now {
    Arc::new(wall)
}
