//! The tracker against a reference model of one project's lifecycle, written as its own plain
//! `match` (it never consults the transition table, so this does not check the table against
//! itself). Sequences include inputs the lifecycle does not allow; after every step the phase and
//! the counts of the step findings must agree. proptest-state-machine shrinks a failure to the
//! shortest sequence.

use std::collections::BTreeSet;

use cvnotify_core::lifecycle::{
    ContainerUri, Delivery, Event, Evidence, FindingCode, Input, MessageId, Phase, Settings,
    Timestamp, Tracker,
};
use cvnotify_core::{ExportPlatform, ExportStatus, Notification, TrainingStatus};
use proptest::prelude::*;
use proptest::sample::select;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

use crate::story::{CONTAINER, MINUTE, backup_uri, iteration, project};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transition {
    Configure,
    ConnectionTest,
    TrainRequest(u8),
    Trained(u8, TrainingStatus),
    ExportRequest(u8, ExportPlatform),
    Exported(u8, ExportStatus, ExportPlatform),
}

#[derive(Clone, Debug, Default)]
struct Model {
    steps: u32,
    first_was_configure: Option<bool>,
    phase: Option<Phase>,
    tested_since_configure: bool,
    requested: BTreeSet<u8>,
    /// (iteration, status) of every Training notification content seen.
    trained: BTreeSet<(u8, TrainingStatus)>,
    /// Iterations whose training completed, and the step it completed at.
    completed: BTreeSet<u8>,
    exported: BTreeSet<(u8, ExportStatus, ExportPlatform)>,
    repeated_connection_tests: usize,
    untrained_exports: usize,
}

impl Model {
    /// Training notifications for iterations never requested (one per content).
    fn not_requested(&self) -> usize {
        self.trained
            .iter()
            .filter(|(i, _)| !self.requested.contains(i))
            .count()
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Transition> {
        let i = || 1u8..=2;
        let platform = || select(vec![ExportPlatform::Onnx, ExportPlatform::CoreMl]);
        prop_oneof![
            Just(Transition::Configure),
            Just(Transition::ConnectionTest),
            i().prop_map(Transition::TrainRequest),
            (i(), select(TrainingStatus::ALL.to_vec()))
                .prop_map(|(i, s)| Transition::Trained(i, s)),
            (i(), platform()).prop_map(|(i, p)| Transition::ExportRequest(i, p)),
            (i(), select(ExportStatus::ALL.to_vec()), platform())
                .prop_map(|(i, s, p)| Transition::Exported(i, s, p)),
        ]
        .boxed()
    }

    fn apply(mut m: Model, t: &Transition) -> Model {
        m.steps += 1;
        if m.first_was_configure.is_none() {
            m.first_was_configure = Some(*t == Transition::Configure);
            m.phase = Some(Phase::Configured);
        }
        match *t {
            Transition::Configure => {
                m.phase = Some(Phase::Configured);
                m.tested_since_configure = false;
            }
            Transition::ConnectionTest => {
                if m.tested_since_configure {
                    m.repeated_connection_tests += 1;
                } else {
                    m.tested_since_configure = true;
                    if m.phase == Some(Phase::Configured) {
                        m.phase = Some(Phase::ConnectionTested);
                    }
                }
            }
            Transition::TrainRequest(i) => {
                // TrainProject returns a new iteration id each time; the same id again is the
                // same fact (a retried call), not a second training.
                if m.requested.insert(i) {
                    m.phase = Some(Phase::Training);
                }
            }
            Transition::Trained(i, status) => {
                // A second message with the same content is a duplicate, not a new step.
                if m.trained.insert((i, status)) {
                    m.phase = Some(match status {
                        TrainingStatus::TrainingCompleted => Phase::Trained,
                        TrainingStatus::TrainingFailed => Phase::TrainingFailed,
                    });
                    if status == TrainingStatus::TrainingCompleted {
                        m.completed.insert(i);
                    }
                }
            }
            Transition::ExportRequest(..) => {}
            Transition::Exported(i, status, platform) => {
                if m.exported.insert((i, status, platform)) {
                    if m.completed.contains(&i) {
                        m.phase = Some(match status {
                            ExportStatus::ExportCompleted => Phase::Exported,
                            ExportStatus::ExportFailed => Phase::ExportFailed,
                        });
                    } else {
                        m.untrained_exports += 1;
                    }
                }
            }
        }
        m
    }
}

struct Sut {
    tracker: Tracker,
    steps: u32,
}

struct LifecycleTest;

impl StateMachineTest for LifecycleTest {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        Sut {
            tracker: Tracker::new(Settings::default()),
            steps: 0,
        }
    }

    fn apply(mut sut: Sut, _: &Model, t: Transition) -> Sut {
        sut.steps += 1;
        let (p, it) = (project(1), |i: u8| iteration(i));
        let delivery = Delivery {
            message_id: MessageId(u128::from(sut.steps)),
            dequeue_count: 1,
        };
        let notify = |notification| Event::Notification {
            notification,
            delivery,
        };
        let event = match t {
            Transition::Configure => Event::Configured {
                project_id: p,
                queue: true,
                container: Some(ContainerUri::parse(CONTAINER).unwrap()),
            },
            Transition::ConnectionTest => notify(Notification::ConnectionTest { project_id: p }),
            Transition::TrainRequest(i) => Event::TrainingRequested {
                project_id: p,
                iteration_id: it(i),
            },
            Transition::Trained(i, status) => notify(Notification::Training {
                project_id: p,
                iteration_id: it(i),
                status,
            }),
            Transition::ExportRequest(i, platform) => Event::ExportRequested {
                project_id: p,
                iteration_id: it(i),
                platform,
                flavor: None,
            },
            Transition::Exported(i, status, platform) => notify(Notification::Export {
                project_id: p,
                iteration_id: it(i),
                status,
                model_uri: Some(backup_uri(p, it(i), platform)),
            }),
        };
        sut.tracker.handle(Input {
            at: Timestamp(u64::from(sut.steps) * MINUTE),
            evidence: Evidence::new(sut.steps).unwrap(),
            event,
        });
        sut
    }

    fn check_invariants(sut: &Sut, m: &Model) {
        let Some(report) = sut.tracker.project_report(project(1)) else {
            assert_eq!(
                m.phase, None,
                "the model has a project the tracker does not"
            );
            return;
        };
        assert_eq!(Some(report.phase), m.phase, "phase");
        let count = |code| report.findings.iter().filter(|f| f.code == code).count();
        let unconfigured = usize::from(m.first_was_configure == Some(false));
        assert_eq!(
            count(FindingCode::UnconfiguredProject),
            unconfigured,
            "unconfigured-project"
        );
        assert_eq!(
            count(FindingCode::ConnectionTestRepeated),
            m.repeated_connection_tests,
            "repeats"
        );
        assert_eq!(
            count(FindingCode::TrainingNotRequested),
            m.not_requested(),
            "not requested"
        );
        assert_eq!(
            count(FindingCode::ExportOfUntrainedIteration),
            m.untrained_exports,
            "untrained exports"
        );
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn the_tracker_follows_the_reference_model(sequential 1..30 => LifecycleTest);
}
