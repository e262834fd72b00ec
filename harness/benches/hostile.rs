//! Hostile inputs against a normal message, side by side in one run: every catalogue entry is
//! read with its reader for at least 2 ms (repeated), and the slowest are printed with their
//! cost as a multiple of a normal message, absolute and per byte. Inputs are bounded (a message
//! is refused past 65,536 bytes before it is read), so absolute cost is bounded too.
//! `cargo bench -p cvnotify-harness --bench hostile`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use cvnotify_harness::hostile::{self, Hostile, Reader};

/// Median nanoseconds per read over five rounds of at least `budget` each.
fn time(h: &Hostile, budget: Duration) -> f64 {
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            black_box(hostile::read(black_box(h)));
            n += 1;
        }
        rounds.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let budget = if quick {
        Duration::from_micros(200)
    } else {
        Duration::from_millis(2)
    };
    let normal = |reader, bytes: String| Hostile {
        technique: "normal",
        name: "normal".into(),
        reader,
        bytes: bytes.into_bytes(),
    };
    let normals = [
        (
            Reader::Message,
            normal(Reader::Message, hostile::normal_message()),
        ),
        (
            Reader::RecordingLine,
            normal(Reader::RecordingLine, hostile::normal_line()),
        ),
    ];
    let base: Vec<(Reader, f64, usize)> = normals
        .iter()
        .map(|(r, h)| (*r, time(h, budget), h.bytes.len()))
        .collect();
    let mut rows: Vec<(f64, f64, &'static str, String, usize)> = Vec::new();
    let catalogue = hostile::catalogue();
    for h in &catalogue {
        let (_, ns, len) = *base.iter().find(|(r, _, _)| *r == h.reader).unwrap();
        let t = time(h, budget);
        let per_byte = (t / h.bytes.len().max(1) as f64) / (ns / len as f64);
        rows.push((t / ns, per_byte, h.technique, h.name.clone(), h.bytes.len()));
    }
    for (reader, ns, len) in &base {
        println!("normal {reader:?}: {ns:.0} ns ({len} bytes)");
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!(
        "\nslowest hostile inputs ({} in all), as multiples of the normal read:",
        rows.len()
    );
    println!(
        "{:>10} {:>10} {:>9}  technique / input",
        "x normal", "x per byte", "bytes"
    );
    for (ratio, per_byte, technique, name, len) in rows.iter().take(8) {
        println!("{ratio:>10.1} {per_byte:>10.2} {len:>9}  {technique} / {name}");
    }
    // Per byte means something from about a normal message's size up; below it, the fixed cost
    // of a call dominates.
    let worst_per_byte = rows
        .iter()
        .filter(|r| r.4 >= 300)
        .map(|r| r.1)
        .fold(0.0, f64::max);
    let small_worst = rows
        .iter()
        .filter(|r| r.4 <= 4096)
        .map(|r| r.0)
        .fold(0.0, f64::max);
    println!(
        "\nworst cost per byte (inputs of 300 bytes or more): {worst_per_byte:.2}x a normal read's; worst input of 4 KiB or less: {small_worst:.1}x a normal read"
    );
}
