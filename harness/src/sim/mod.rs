//! Simulations of the endpoints cvnotify talks to, built on wiremock: stateful services that
//! answer the same REST as the real ones, for tests and benchmarks that need speed or faults
//! the real ones do not give on demand. Issue 6 grows this; for now it holds the queue.

pub mod queue;

pub use queue::SimulatedQueues;
