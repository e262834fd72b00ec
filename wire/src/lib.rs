//! # cvnotify-wire
//!
//! The bytes cvnotify reads from outside and writes back, as values: recording lines (the
//! evidence a session leaves) and the XML bodies of the Azure Storage queue and blob APIs.
//! Readers take text or a [`std::io::BufRead`] and answer a typed error for anything that is
//! not what the format says; nothing here opens a file or a socket, or reads a clock.
//!
//! It is a crate of its own so that the fuzz targets, which build every dependency with
//! libFuzzer's instrumentation, build the readers they test and nothing more: no HTTP client,
//! no async runtime, no simulation. `cvnotify-harness` re-exports both modules where they
//! were (`cvnotify_harness::recording`, `cvnotify_harness::storage`).
//!
//! ## Layout
//!
//! Arrows point one way: [`recording`] and [`xml`] → the core; `fuzzing` → both.
//!
//! - [`recording`]: the recording format (schema, reading, what a line stands for, writing).
//! - [`xml`]: Get and Peek Messages, Put Message, List Blobs and error bodies.
//! - `fuzzing`: the fuzz targets' bodies, which the stable test suite runs over every corpus
//!   file and crash reproducer too (hidden from the documentation; not part of the crate's face).

#[doc(hidden)]
pub mod fuzzing;
pub mod recording;
pub mod xml;
