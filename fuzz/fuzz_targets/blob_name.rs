//! Fuzz target `blob_name`: the body is `cvnotify_wire::fuzzing::blob_name`, which the stable test
//! suite also runs over every corpus file and crash reproducer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cvnotify_wire::fuzzing::blob_name(data);
});
