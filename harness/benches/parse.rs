//! Parse speed: the typed parse (every rule checked) beside two baselines on the same bytes, for
//! the three documented kinds, plain and base64:
//! - `value`: `serde_json::from_slice::<serde_json::Value>`, the untyped parse;
//! - `derive`: a `#[derive(Deserialize)]` struct with borrowed `&str` fields and no checks at all,
//!   the floor of any serde_json-based parse (it does not even decode the GUIDs).
//!
//! For base64 every baseline decodes with the same `base64` engine first, since a parse of the
//! base64 text itself would fail at byte 0. `scripts/bench-parse` runs this and prints messages
//! per second and the ratios of one run.

use std::hint::black_box;

use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cvnotify_core::{ParseOptions, parse};

#[path = "parse_inputs.rs"]
mod parse_inputs;

use parse_inputs::{Floor, messages};

fn bench(c: &mut Criterion) {
    let b64 = base64::engine::general_purpose::STANDARD;
    for (kind, json) in messages() {
        let plain = json.clone().into_bytes();
        let encoded = b64.encode(&json).into_bytes();
        assert!(parse(&plain, ParseOptions::STRICT).is_ok(), "{kind}");
        assert!(parse(&encoded, ParseOptions::STRICT).is_ok(), "{kind}");

        let mut g = c.benchmark_group(format!("parse/{kind}/plain"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("typed", |b| {
            b.iter(|| parse(black_box(&plain), ParseOptions::STRICT))
        });
        g.bench_function("value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&plain)))
        });
        g.bench_function("derive", |b| {
            b.iter(|| serde_json::from_slice::<Floor<'_>>(black_box(&plain)).is_ok())
        });
        g.finish();

        let mut g = c.benchmark_group(format!("parse/{kind}/base64"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("typed", |b| {
            b.iter(|| parse(black_box(&encoded), ParseOptions::STRICT))
        });
        g.bench_function("value", |b| {
            b.iter(|| {
                let bytes = b64.decode(black_box(&encoded)).unwrap_or_default();
                serde_json::from_slice::<serde_json::Value>(&bytes)
            })
        });
        g.bench_function("derive", |b| {
            b.iter(|| {
                let bytes = b64.decode(black_box(&encoded)).unwrap_or_default();
                serde_json::from_slice::<Floor<'_>>(&bytes).is_ok()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
