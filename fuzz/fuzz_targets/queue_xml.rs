//! Fuzz target `queue_xml`: the body is `cvnotify_wire::fuzzing::queue_xml`, which the stable test
//! suite also runs over every corpus file and crash reproducer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cvnotify_wire::fuzzing::queue_xml(data);
});
