//! Properties of the lifecycle model over generated inputs (two projects, two iterations, two
//! platforms, a small pool of message ids, every event kind): the same inputs give the same state
//! and report; arrival order does not matter; a redelivered notification adds only info findings;
//! merging trackers that each saw part of the inputs gives the tracker that saw them all, and
//! merge is associative, commutative and idempotent.

use cvnotify_core::lifecycle::{
    ContainerUri, Delivery, Event, Evidence, ExportFlavor, ExportJobStatus, FindingCode, Input,
    IterationStatus, MessageId, Operation, Phase, RejectionCode, Settings, Timestamp, Tracker,
};
use cvnotify_core::{ExportPlatform, ExportStatus, ModelUri, Notification, TrainingStatus};
use proptest::prelude::*;
use proptest::sample::select;

use crate::story::{CONTAINER, MINUTE, backup_uri, iteration, project};

fn delivery() -> impl Strategy<Value = Delivery> {
    (0u128..4, 1u32..4).prop_map(|(m, d)| Delivery {
        message_id: MessageId(m),
        dequeue_count: d,
    })
}

pub(crate) fn event() -> impl Strategy<Value = Event> {
    let p = || select(vec![project(1), project(2)]);
    let i = || select(vec![iteration(1), iteration(2)]);
    let platform = || select(vec![ExportPlatform::Onnx, ExportPlatform::CoreMl]);
    let blob_name = |p: cvnotify_core::ProjectId, i, platform| format!("{p} - {i}.{platform}");
    prop_oneof![
        (p(), any::<bool>()).prop_map(|(p, c)| Event::Configured {
            project_id: p,
            queue: true,
            container: c.then(|| ContainerUri::parse(CONTAINER).unwrap()),
        }),
        (p(), delivery()).prop_map(|(p, delivery)| Event::Notification {
            notification: Notification::ConnectionTest { project_id: p },
            delivery,
        }),
        (p(), i()).prop_map(|(p, i)| Event::TrainingRequested {
            project_id: p,
            iteration_id: i
        }),
        (p(), i(), select(TrainingStatus::ALL.to_vec()), delivery()).prop_map(
            |(p, i, status, delivery)| {
                Event::Notification {
                    notification: Notification::Training {
                        project_id: p,
                        iteration_id: i,
                        status,
                    },
                    delivery,
                }
            }
        ),
        (
            p(),
            i(),
            platform(),
            prop::option::of(select(vec![ExportFlavor::Onnx12, ExportFlavor::Linux]))
        )
            .prop_map(|(p, i, platform, flavor)| Event::ExportRequested {
                project_id: p,
                iteration_id: i,
                platform,
                flavor,
            }),
        (
            p(),
            i(),
            select(ExportStatus::ALL.to_vec()),
            platform(),
            0u8..3,
            delivery()
        )
            .prop_map(|(p, i, status, platform, uri, delivery)| {
                let model_uri = match uri {
                    0 => Some(backup_uri(p, i, platform)),
                    1 => Some(ModelUri::parse("https://elsewhere.example/m.zip?sig=x").unwrap()),
                    _ => None,
                };
                Event::Notification {
                    notification: Notification::Export {
                        project_id: p,
                        iteration_id: i,
                        status,
                        model_uri,
                    },
                    delivery,
                }
            }),
        (
            p(),
            i(),
            select(vec![
                IterationStatus::Training,
                IterationStatus::Completed,
                IterationStatus::Failed
            ])
        )
            .prop_map(|(p, i, status)| Event::IterationPolled {
                project_id: p,
                iteration_id: i,
                status
            }),
        (
            p(),
            i(),
            platform(),
            select(vec![
                ExportJobStatus::Exporting,
                ExportJobStatus::Done,
                ExportJobStatus::Failed
            ])
        )
            .prop_map(|(p, i, platform, status)| Event::ExportPolled {
                project_id: p,
                iteration_id: i,
                platform,
                status,
            }),
        (p(), i(), platform(), 1u64..4096).prop_map(move |(p, i, platform, size)| {
            Event::BlobCreated {
                name: blob_name(p, i, platform),
                size,
            }
        }),
        (p(), i(), platform()).prop_map(move |(p, i, platform)| Event::BlobDeleted {
            name: blob_name(p, i, platform)
        }),
        p().prop_map(|p| Event::ApiRejected {
            project_id: p,
            operation: Operation::ExportIteration,
            code: RejectionCode::ExportAlreadyInProgress,
        }),
        Just(Event::Tick),
    ]
}

/// A time: half the time one of six instants (queue insertion times have one-second
/// resolution, so equal times are common on real data), else any minute of two days (so
/// deadlines expire).
fn minute() -> impl Strategy<Value = u64> {
    prop_oneof![(0u64..6).prop_map(|k| k * 7), 0u64..2 * 24 * 60]
}

/// Inputs with times over two days, many of them equal, and evidence numbered in order.
pub(crate) fn inputs(max: usize) -> impl Strategy<Value = Vec<Input>> {
    proptest::collection::vec((minute(), event()), 0..max).prop_map(|events| {
        events
            .into_iter()
            .enumerate()
            .map(|(n, (minute, event))| Input {
                at: Timestamp(minute * MINUTE),
                evidence: Evidence::new(u32::try_from(n + 1).unwrap()).unwrap(),
                event,
            })
            .collect()
    })
}

/// The inputs numbered again from `first`, in their order: what replaying a reordered or split
/// recording does (each recording numbers its own lines).
fn renumbered(inputs: &[Input], first: u32) -> Vec<Input> {
    inputs
        .iter()
        .enumerate()
        .map(|(n, i)| Input {
            evidence: Evidence::new(first + u32::try_from(n).unwrap()).unwrap(),
            ..i.clone()
        })
        .collect()
}

/// What a report says, without evidence numbers: each project's phase, its phase changes with
/// their times, and its findings (code, time, iteration, platform).
type Meaning = Vec<(
    cvnotify_core::ProjectId,
    Phase,
    Vec<(Timestamp, Phase)>,
    Vec<(
        Timestamp,
        FindingCode,
        Option<cvnotify_core::IterationId>,
        Option<String>,
    )>,
)>;

fn meaning(tracker: &Tracker) -> Meaning {
    tracker
        .report()
        .into_iter()
        .map(|r| {
            let history = r.history.iter().map(|(s, p)| (s.at, *p)).collect();
            let mut findings: Vec<_> = r
                .findings
                .iter()
                .map(|f| {
                    (
                        f.at,
                        f.code,
                        f.iteration_id,
                        f.platform.as_ref().map(|p| p.as_str().to_string()),
                    )
                })
                .collect();
            findings.sort();
            (r.project_id, r.phase, history, findings)
        })
        .collect()
}

pub(crate) fn track(inputs: &[Input]) -> Tracker {
    let mut tracker = Tracker::new(Settings::default());
    for input in inputs {
        tracker.handle(input.clone());
    }
    tracker
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_same_inputs_give_the_same_state_and_report(inputs in inputs(40)) {
        let (a, b) = (track(&inputs), track(&inputs));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.report(), b.report());
    }

    /// Storage queues are not FIFO: any arrival order of the same inputs gives the same tracker.
    #[test]
    fn arrival_order_does_not_matter(
        inputs in inputs(40).prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        let (original, shuffled) = inputs;
        let (a, b) = (track(&original), track(&shuffled));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.report(), b.report());
    }

    /// Issue 12: every generator fixed an input's evidence before shuffling, so reordering never
    /// changed a tie-break. Here the inputs are numbered again after the shuffle, as replaying a
    /// reordered recording does: what the report says must not change.
    #[test]
    fn evidence_numbers_never_decide_a_verdict(
        inputs in inputs(40).prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        let (original, shuffled) = inputs;
        let a = track(&original);
        let b = track(&renumbered(&shuffled, 1));
        prop_assert_eq!(meaning(&a), meaning(&b));
    }

    /// Several recordings each number their own lines: split the inputs between consumers,
    /// number each part on its own (in ranges of its own, as evidence names a file and a line),
    /// merge, and the report says what the whole does.
    #[test]
    fn merged_recordings_numbered_apart_mean_the_whole(
        inputs in inputs(40),
        owners in proptest::collection::vec(0u8..3, 40),
    ) {
        let whole = track(&inputs);
        let part = |k: u8| -> Vec<Input> {
            let mine: Vec<Input> = inputs.iter().zip(&owners).filter(|(_, o)| **o == k).map(|(i, _)| i.clone()).collect();
            renumbered(&mine, 1 + 1000 * u32::from(k))
        };
        let mut merged = track(&part(0));
        merged.merge(&track(&part(1))).unwrap();
        merged.merge(&track(&part(2))).unwrap();
        prop_assert_eq!(meaning(&merged), meaning(&whole));
    }

    /// Any notification delivered again (the same message, handed out again, no earlier than the
    /// first time and no later than the latest input) changes nothing but info findings.
    #[test]
    fn a_redelivery_adds_only_duplicate_delivery_findings(inputs in inputs(40), pick in any::<prop::sample::Index>(), later in 0u64..1000) {
        let notifications: Vec<&Input> = inputs.iter().filter(|i| matches!(i.event, Event::Notification { .. })).collect();
        prop_assume!(!notifications.is_empty());
        let original = pick.get(&notifications);
        let before = track(&inputs);
        let mut again = (*original).clone();
        again.at = Timestamp((original.at.0 + later * 1000).min(before.now().0).max(original.at.0));
        again.evidence = Evidence::new(u32::try_from(inputs.len() + 1).unwrap()).unwrap();
        if let Event::Notification { delivery, .. } = &mut again.event {
            delivery.dequeue_count += 1;
        }
        let mut after = before.clone();
        after.handle(again);
        let (before, after) = (before.report(), after.report());
        prop_assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            prop_assert_eq!(&b.history, &a.history);
            let mut rest: Vec<_> = a.findings.iter().filter(|f| !b.findings.contains(f)).collect();
            rest.retain(|f| f.code != FindingCode::DuplicateDelivery);
            prop_assert!(rest.is_empty(), "new findings besides duplicate-delivery: {:?}", rest);
            prop_assert!(b.findings.iter().all(|f| a.findings.contains(f)));
        }
    }

    /// Several consumers on one queue: split the inputs between trackers in any way, merge in
    /// any grouping, and the result is the tracker that saw everything.
    #[test]
    fn merged_parts_equal_the_whole(inputs in inputs(40), owners in proptest::collection::vec(0u8..3, 40)) {
        let whole = track(&inputs);
        let part = |k: u8| -> Vec<Input> {
            inputs.iter().zip(&owners).filter(|(_, o)| **o == k).map(|(i, _)| i.clone()).collect()
        };
        let (a, b, c) = (track(&part(0)), track(&part(1)), track(&part(2)));
        let merge = |x: &Tracker, y: &Tracker| { let mut m = x.clone(); m.merge(y).unwrap(); m };
        let ab_c = merge(&merge(&a, &b), &c);
        let a_bc = merge(&a, &merge(&b, &c));
        prop_assert_eq!(&ab_c, &whole);
        prop_assert_eq!(&a_bc, &whole);
        prop_assert_eq!(merge(&b, &a), merge(&a, &b));
        prop_assert_eq!(&merge(&whole, &whole), &whole);
        prop_assert_eq!(ab_c.report(), whole.report());
        // Absorbing (moving a shard's projects in) is the same merge.
        let mut absorbed = a.clone();
        absorbed.absorb(b.clone()).unwrap();
        absorbed.absorb(c.clone()).unwrap();
        prop_assert_eq!(&absorbed, &whole);
        // Taking the tracker apart project by project judges each the same.
        let taken: Vec<_> = whole.clone().into_reports().map(|(r, _)| r).collect();
        prop_assert_eq!(taken, whole.report());
    }
}

#[test]
fn trackers_with_different_settings_do_not_merge() {
    let mut a = Tracker::new(Settings::default());
    let b = Tracker::new(Settings {
        sources: cvnotify_core::lifecycle::Sources::QUEUE,
        ..Settings::default()
    });
    assert!(a.merge(&b).is_err());
    assert!(a.absorb(b).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A ConnectionTest sent at or after its configuration (API times in milliseconds) whose
    /// queue time is known only to the second is never taken for one that came first, in
    /// whichever order the two are seen, equal seconds included.
    #[test]
    fn a_queue_time_known_to_the_second_never_puts_a_test_before_its_configuration(
        configured in 0u64..5_000,
        after in prop_oneof![0u64..1_000, 0u64..5_000],
        test_seen_first in any::<bool>(),
    ) {
        let p = project(1);
        let t_configured = 1_700_000_000_000 + configured;
        let t_sent = t_configured + after;
        let configure = Input {
            at: Timestamp(t_configured),
            evidence: Evidence::new(1).unwrap(),
            event: Event::Configured {
                project_id: p,
                queue: true,
                container: None,
            },
        };
        let test = Input {
            at: Timestamp(t_sent / 1000 * 1000),
            evidence: Evidence::new(2).unwrap(),
            event: Event::Notification {
                notification: Notification::ConnectionTest { project_id: p },
                delivery: Delivery { message_id: MessageId(1), dequeue_count: 1 },
            },
        };
        let inputs = if test_seen_first { vec![test, configure] } else { vec![configure, test] };
        let report = track(&inputs).report();
        let r = report.iter().find(|r| r.project_id == p).unwrap();
        prop_assert!(
            r.findings.iter().all(|f| f.code != FindingCode::UnconfiguredProject),
            "{:?}", r.findings
        );
        prop_assert_eq!(r.phase, Phase::ConnectionTested);
    }
}
