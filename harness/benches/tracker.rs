//! Tracker speed and memory: 1,000,000 already-parsed notifications over 10,000 projects with
//! random-looking ids
//! (per project one ConnectionTest, then 33 iterations each with a Training notification and two
//! Export notifications whose modelUri is the backup blob in the configured container),
//! interleaved across projects as a shared queue would deliver them.
//!
//! Criterion times `Tracker::handle` over all of them (throughput in inputs per second). Before
//! that, a counting global allocator measures the heap the tracker keeps: the live bytes after
//! the inputs (clones) are handled, minus the live bytes before, per tracked iteration.
//! `scripts/bench-tracker` runs this and prints both.

// A benchmark's setup that fails should stop it loudly, like a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::alloc::System;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use cvnotify_core::lifecycle::{
    Delivery, Event, Evidence, Input, MessageId, Settings, Sources, Timestamp, Tracker,
};
use cvnotify_core::{
    ExportPlatform, ExportStatus, IterationId, ModelUri, Notification, ProjectId, TrainingStatus,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

/// Counts heap bytes (stats_alloc wraps the system allocator; no unsafe here).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn live_bytes() -> isize {
    let s = GLOBAL.stats();
    // Reallocations are already folded into allocated/deallocated by stats_alloc.
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

/// Projects: 10,000 under `cargo bench`; 100 when `cargo test` runs the bench once as a test
/// (a debug build, where the full million would only slow the test run down).
fn projects() -> u32 {
    if std::env::args().any(|a| a == "--bench") {
        10_000
    } else {
        100
    }
}
const ITERATIONS: u32 = 33;
const CONTAINER: &str = "https://cvbackup.blob.core.windows.net/backups";

/// A GUID that looks random (like the service's v4 ids), fixed by (kind, n, k): splitmix64.
fn guid(kind: u8, n: u32, k: u32) -> [u8; 16] {
    cvnotify_harness::seed::guid_bytes(u64::from(kind), u64::from(n), u64::from(k))
}

/// The inputs, in delivery order: round k of every project, then round k + 1.
fn inputs() -> Vec<Input> {
    let projects = projects();
    let mut notifications = Vec::with_capacity(100 * projects as usize);
    let rounds = 1 + 3 * ITERATIONS;
    for round in 0..rounds {
        for n in 0..projects {
            let p = ProjectId::from_bytes(guid(1, n, 0));
            let notification = if round == 0 {
                Notification::ConnectionTest { project_id: p }
            } else {
                let k = (round - 1) / 3;
                let i = IterationId::from_bytes(guid(2, n, k));
                match (round - 1) % 3 {
                    0 => Notification::Training {
                        project_id: p,
                        iteration_id: i,
                        status: TrainingStatus::TrainingCompleted,
                    },
                    which => {
                        let platform = if which == 1 {
                            ExportPlatform::Onnx
                        } else {
                            ExportPlatform::CoreMl
                        };
                        let uri = ModelUri::parse(&format!("{CONTAINER}/{p}%20-%20{i}.{platform}"))
                            .unwrap();
                        Notification::Export {
                            project_id: p,
                            iteration_id: i,
                            status: ExportStatus::ExportCompleted,
                            model_uri: Some(uri),
                        }
                    }
                }
            };
            notifications.push(notification);
        }
    }
    notifications
        .into_iter()
        .enumerate()
        .map(|(n, notification)| {
            let n = u32::try_from(n).unwrap();
            Input {
                at: Timestamp(1_700_000_000_000 + u64::from(n) * 10),
                evidence: Evidence::new(n + 1).unwrap(),
                event: Event::Notification {
                    notification,
                    delivery: Delivery {
                        message_id: MessageId(u128::from(n) + 1),
                        dequeue_count: 1,
                    },
                },
            }
        })
        .collect()
}

/// The project an input is about (every input here is a notification).
fn project_of(i: &Input) -> Option<ProjectId> {
    match &i.event {
        Event::Notification { notification, .. } => notification.project_id(),
        _ => None,
    }
}

fn settings() -> Settings {
    Settings {
        sources: Sources::QUEUE,
        ..Settings::default()
    }
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    assert_eq!(inputs.len(), 100 * projects() as usize);

    let before = live_bytes();
    let mut tracker = Tracker::new(settings());
    for input in &inputs {
        tracker.handle(input.clone());
    }
    let kept = live_bytes() - before;
    let iterations: usize = tracker
        .projects()
        .values()
        .map(|p| p.iterations.len())
        .sum();
    println!(
        "tracker heap: {kept} bytes for {} projects, {iterations} iterations: {:.1} bytes per iteration",
        tracker.projects().len(),
        kept as f64 / iterations as f64
    );
    let report = tracker.report();
    assert!(
        report.iter().all(|r| r.findings.is_empty()),
        "the generated traffic is clean"
    );
    drop(report);
    drop(tracker);

    // The same inputs, grouped by project (a consumer catching up one project at a time): the
    // work is the same, only the memory access pattern differs.
    let mut grouped = inputs.clone();
    grouped.sort_by_key(|i| match &i.event {
        Event::Notification { notification, .. } => notification.project_id(),
        _ => None,
    });

    let mut g = c.benchmark_group("tracker");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.sample_size(10);
    // Interleaved, as replay gets it: in batches of 1,024 lines, each sorted by project before
    // it is applied (the report does not depend on the order inputs arrive in).
    g.bench_function("batch-sorted", |b| {
        b.iter_batched(
            || inputs.clone(),
            |mut batch| {
                let mut tracker = Tracker::new(settings());
                for chunk in batch.chunks_mut(1024) {
                    chunk.sort_by_key(project_of);
                }
                batch.into_iter().for_each(|i| tracker.handle(i));
                black_box(tracker)
            },
            BatchSize::PerIteration,
        )
    });
    // Interleaved, split by project over two trackers on two threads, then merged (moved). The
    // split is made in the setup, as inputs routed by project on their way in would arrive:
    // the routine is the two trackers side by side and the merge.
    g.bench_function("sharded-2", |b| {
        b.iter_batched(
            || {
                let (mut left, mut right) = (Vec::new(), Vec::new());
                for i in inputs.iter().cloned() {
                    let odd = project_of(&i).is_some_and(|p| p.as_bytes()[15] & 1 == 1);
                    if odd { right.push(i) } else { left.push(i) }
                }
                (left, right)
            },
            |(left, right)| {
                let (mut a, b) = std::thread::scope(|s| {
                    let run = |part: Vec<Input>| {
                        move || {
                            let mut t = Tracker::new(settings());
                            part.into_iter().for_each(|i| t.handle(i));
                            t
                        }
                    };
                    let a = s.spawn(run(left));
                    let b = s.spawn(run(right));
                    (a.join().unwrap(), b.join().unwrap())
                });
                a.absorb(b).unwrap();
                black_box(a)
            },
            BatchSize::PerIteration,
        )
    });
    for (name, order) in [("interleaved", &inputs), ("grouped", &grouped)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || order.clone(),
                |batch| {
                    let mut tracker = Tracker::new(settings());
                    for input in batch {
                        tracker.handle(input);
                    }
                    black_box(tracker)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
