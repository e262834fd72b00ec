//! Exhaustive check: for one project with two iterations and two platforms, every sequence of up
//! to six inputs from an alphabet of eight (inputs ten minutes apart, so the connection-test and
//! backup deadlines expire within a sequence) is applied, and for each: nothing panics, the
//! reversed arrival order gives the same tracker, the odd/even split merges back to it, merging
//! it with itself changes nothing, and the report is the same twice. It prints how many
//! sequences and distinct project states it explored (run with `--nocapture` to see them).

use std::collections::BTreeSet;

use cvnotify_core::lifecycle::{
    ContainerUri, Delivery, Event, Evidence, FindingCode, Input, MessageId, Phase, Settings,
    Timestamp, Tracker,
};
use cvnotify_core::{ExportPlatform, ExportStatus, Notification, TrainingStatus};

use crate::story::{CONTAINER, MINUTE, backup_uri, iteration, project};

const ALPHABET: usize = 8;
const MAX_LEN: u32 = 6;

/// Symbol `s` at position `n` of a sequence (the position gives time, evidence and message id).
fn input(s: usize, n: usize) -> Input {
    let (p, i1, i2) = (project(1), iteration(1), iteration(2));
    let delivery = Delivery {
        message_id: MessageId(n as u128 + 1),
        dequeue_count: 1,
    };
    let notify = |notification| Event::Notification {
        notification,
        delivery,
    };
    let event = match s {
        0 => Event::Configured {
            project_id: p,
            queue: true,
            container: Some(ContainerUri::parse(CONTAINER).unwrap()),
        },
        1 => notify(Notification::ConnectionTest { project_id: p }),
        2 => Event::TrainingRequested {
            project_id: p,
            iteration_id: i1,
        },
        3 => notify(Notification::Training {
            project_id: p,
            iteration_id: i1,
            status: TrainingStatus::TrainingCompleted,
        }),
        4 => notify(Notification::Training {
            project_id: p,
            iteration_id: i2,
            status: TrainingStatus::TrainingFailed,
        }),
        5 => notify(Notification::Export {
            project_id: p,
            iteration_id: i1,
            status: ExportStatus::ExportCompleted,
            model_uri: Some(backup_uri(p, i1, ExportPlatform::Onnx)),
        }),
        6 => notify(Notification::Export {
            project_id: p,
            iteration_id: i2,
            status: ExportStatus::ExportCompleted,
            model_uri: Some(backup_uri(p, i2, ExportPlatform::CoreMl)),
        }),
        _ => Event::BlobCreated {
            name: format!("{p} - {i1}.ONNX"),
            size: 10,
        },
    };
    let n32 = u32::try_from(n).unwrap();
    Input {
        at: Timestamp(u64::from(n32 + 1) * 10 * MINUTE),
        evidence: Evidence::new(n32 + 1).unwrap(),
        event,
    }
}

fn track<'a>(inputs: impl Iterator<Item = &'a Input>) -> Tracker {
    let mut t = Tracker::new(Settings::default());
    for i in inputs {
        t.handle(i.clone());
    }
    t
}

type Summary = (Phase, Vec<Phase>, Vec<FindingCode>);

/// `inputs[s][n]`: symbol `s` at position `n`, built once.
fn alphabet() -> Vec<Vec<Input>> {
    (0..ALPHABET)
        .map(|s| (0..MAX_LEN as usize).map(|n| input(s, n)).collect())
        .collect()
}

fn check(alphabet: &[Vec<Input>], seq: &[usize], states: &mut BTreeSet<Summary>) {
    let inputs: Vec<Input> = seq
        .iter()
        .enumerate()
        .map(|(n, &s)| alphabet[s][n].clone())
        .collect();
    let whole = track(inputs.iter());
    assert_eq!(
        track(inputs.iter().rev()),
        whole,
        "arrival order matters for {seq:?}"
    );
    let mut merged = track(inputs.iter().step_by(2));
    merged
        .merge(&track(inputs.iter().skip(1).step_by(2)))
        .unwrap();
    assert_eq!(merged, whole, "odd/even merge differs for {seq:?}");
    let mut twice = whole.clone();
    twice.merge(&whole).unwrap();
    assert_eq!(twice, whole, "merge is not idempotent for {seq:?}");
    let report = whole.report();
    assert_eq!(
        whole.report(),
        report,
        "report not deterministic for {seq:?}"
    );
    for r in report {
        let history = r.history.iter().map(|(_, p)| *p).collect();
        let codes = r.findings.iter().map(|f| f.code).collect();
        states.insert((r.phase, history, codes));
    }
}

#[test]
fn every_short_sequence_of_one_project_keeps_the_properties() {
    let alphabet = alphabet();
    let mut states = BTreeSet::new();
    let mut sequences = 0usize;
    for len in 0..=MAX_LEN {
        let total = ALPHABET.pow(len);
        for code in 0..total {
            let seq: Vec<usize> = (0..len)
                .map(|k| code / ALPHABET.pow(k) % ALPHABET)
                .collect();
            check(&alphabet, &seq, &mut states);
            sequences += 1;
        }
    }
    let expected: usize = (0..=MAX_LEN).map(|l| ALPHABET.pow(l)).sum();
    assert_eq!(sequences, expected);
    println!(
        "exhaustive lifecycle check: {sequences} sequences, {} distinct project states",
        states.len()
    );
    // Every phase is reached, and every finding the alphabet can produce shows up somewhere.
    let phases: BTreeSet<Phase> = states.iter().map(|s| s.0).collect();
    assert_eq!(
        phases.len(),
        Phase::ALL.len() - 1,
        "ExportFailed is not in this alphabet: {phases:?}"
    );
    let codes: BTreeSet<&str> = states
        .iter()
        .flat_map(|s| s.2.iter().map(|c| c.as_str()))
        .collect();
    for expected in [
        "unconfigured-project",
        "connection-test-missing",
        "connection-test-repeated",
        "training-not-requested",
        "export-of-untrained-iteration",
        "backup-blob-missing",
    ] {
        assert!(
            codes.contains(expected),
            "{expected} never raised: {codes:?}"
        );
    }
}
