//! The lifecycle model told as stories: the documented path is clean, and each way the traffic
//! can depart from it raises exactly its finding, only when the sources it needs are observed.

use cvnotify_core::lifecycle::{
    Deadlines, ExportJobStatus, IterationStatus, Operation, Phase, RejectionCode, Sources,
};
use cvnotify_core::{ExportPlatform, ExportStatus, ModelUri, TrainingStatus};

use crate::story::{MINUTE, Story, backup_uri, iteration, project};

const HOUR: u64 = 60 * MINUTE;

fn phases(story: &Story, p: cvnotify_core::ProjectId) -> Vec<Phase> {
    story
        .report(p)
        .history
        .iter()
        .map(|(_, phase)| *phase)
        .collect()
}

#[test]
fn the_documented_path_is_clean_and_ends_exported() {
    let (p, i) = (project(1), iteration(1));
    let mut story = Story::full();
    story.happy(p, i).wait(2 * 24 * HOUR).tick();
    let report = story.report(p);
    assert_eq!(report.findings, vec![], "{report:#?}");
    assert_eq!(
        phases(&story, p),
        [
            Phase::Configured,
            Phase::ConnectionTested,
            Phase::Training,
            Phase::Trained,
            Phase::Exported
        ]
    );
}

#[test]
fn a_project_seen_only_through_its_queue_is_clean() {
    let (p, i) = (project(1), iteration(1));
    let mut story = Story::new(Sources::QUEUE);
    story
        .connection_test(p)
        .trained(p, i, TrainingStatus::TrainingCompleted)
        .exported_to(p, i, ExportPlatform::Onnx)
        .wait(2 * 24 * HOUR)
        .tick();
    assert_eq!(story.codes(p), Vec::<&str>::new());
    assert_eq!(story.report(p).phase, Phase::Exported);
}

#[test]
fn a_notification_for_a_project_never_configured() {
    let (p, i) = (project(1), iteration(1));
    let mut story = Story::full();
    story.trained(p, i, TrainingStatus::TrainingCompleted);
    assert_eq!(
        story.codes(p),
        ["unconfigured-project", "training-not-requested"]
    );
    // The same traffic, seen by a queue-only consumer, is its configuration.
    let mut queue_only = Story::new(Sources::QUEUE);
    queue_only.trained(p, i, TrainingStatus::TrainingCompleted);
    assert_eq!(queue_only.codes(p), Vec::<&str>::new());
}

#[test]
fn connection_test_missing_after_the_deadline_only() {
    let p = project(1);
    let deadline = Deadlines::default().connection_test;
    let mut story = Story::full();
    story.configure(p, true).wait(deadline - 2 * MINUTE).tick();
    assert_eq!(
        story.codes(p),
        Vec::<&str>::new(),
        "one minute before the deadline"
    );
    story.tick();
    assert_eq!(story.codes(p), ["connection-test-missing"]);
    let finding = &story.report(p).findings[0];
    assert_eq!(finding.at.millis(), MINUTE + deadline);
    assert_eq!(finding.evidence[0].evidence.get(), 1);
}

#[test]
fn a_second_connection_test_without_reconfiguration_is_noted() {
    let p = project(1);
    let mut story = Story::full();
    story
        .configure(p, true)
        .connection_test(p)
        .connection_test(p);
    assert_eq!(story.codes(p), ["connection-test-repeated"]);
    // After a reconfiguration, the next one is expected.
    let mut story = Story::full();
    story
        .configure(p, true)
        .connection_test(p)
        .configure(p, true)
        .connection_test(p);
    assert_eq!(story.codes(p), Vec::<&str>::new());
    assert_eq!(story.report(p).phase, Phase::ConnectionTested);
}

#[test]
fn training_started_in_the_portal_is_a_warning() {
    let (p, i) = (project(1), iteration(1));
    let mut story = Story::full();
    story
        .configure(p, true)
        .connection_test(p)
        .trained(p, i, TrainingStatus::TrainingCompleted);
    assert_eq!(story.codes(p), ["training-not-requested"]);
    assert_eq!(story.report(p).phase, Phase::Trained);
}

#[test]
fn training_notification_missing_after_its_deadline() {
    let (p, i) = (project(1), iteration(1));
    let mut story = Story::full();
    story
        .configure(p, true)
        .connection_test(p)
        .train(p, i)
        .wait(25 * HOUR)
        .tick();
    assert_eq!(story.codes(p), ["training-notification-missing"]);
    assert_eq!(story.report(p).phase, Phase::Training);
}

#[test]
fn completed_and_failed_for_one_iteration_conflict() {
    let (p, i) = (project(1), iteration(1));
    let mut story = Story::full();
    story
        .configure(p, true)
        .connection_test(p)
        .train(p, i)
        .trained(p, i, TrainingStatus::TrainingCompleted)
        .trained(p, i, TrainingStatus::TrainingFailed);
    assert_eq!(story.codes(p), ["training-status-conflict"]);
}

#[test]
fn a_notification_that_contradicts_polling() {
    let (p, i) = (project(1), iteration(1));
    for (polled, notified) in [
        (IterationStatus::Failed, TrainingStatus::TrainingCompleted),
        (IterationStatus::Completed, TrainingStatus::TrainingFailed),
    ] {
        let mut story = Story::full();
        story
            .configure(p, true)
            .connection_test(p)
            .train(p, i)
            .poll_iteration(p, i, polled)
            .trained(p, i, notified);
        assert_eq!(
            story.codes(p),
            ["training-contradicts-polling"],
            "{polled:?} {notified:?}"
        );
    }
}

#[test]
fn an_export_of_an_iteration_that_did_not_finish_training() {
    let (p, i) = (project(1), iteration(1));
    let mut story = Story::full();
    story
        .configure(p, true)
        .connection_test(p)
        .train(p, i)
        .exported_to(p, i, ExportPlatform::Onnx)
        .blob(p, i, ExportPlatform::Onnx);
    assert_eq!(story.codes(p), ["export-of-untrained-iteration"]);
    assert_eq!(
        story.report(p).phase,
        Phase::Training,
        "the refused step leaves the phase"
    );
    // Order matters here, by `at`: completion arriving later does not excuse the export.
    story.trained(p, i, TrainingStatus::TrainingCompleted);
    assert_eq!(story.codes(p), ["export-of-untrained-iteration"]);
}

#[test]
fn an_export_notification_that_contradicts_polling() {
    let (p, i) = (project(1), iteration(1));
    let mut story = Story::full();
    story
        .configure(p, true)
        .connection_test(p)
        .train(p, i)
        .trained(p, i, TrainingStatus::TrainingCompleted)
        .export(p, i, ExportPlatform::Onnx)
        .poll_export(p, i, ExportPlatform::Onnx, ExportJobStatus::Failed)
        .exported_to(p, i, ExportPlatform::Onnx)
        .blob(p, i, ExportPlatform::Onnx);
    assert_eq!(story.codes(p), ["export-contradicts-polling"]);
}

#[test]
fn backup_blob_missing_and_unannounced() {
    let (p, i) = (project(1), iteration(1));
    let trained = |story: &mut Story| {
        story
            .configure(p, true)
            .connection_test(p)
            .train(p, i)
            .trained(p, i, TrainingStatus::TrainingCompleted);
    };
    let mut story = Story::full();
    trained(&mut story);
    story
        .exported_to(p, i, ExportPlatform::Onnx)
        .wait(20 * MINUTE)
        .tick();
    assert_eq!(story.codes(p), ["backup-blob-missing"]);
    // Without a container configured, the modelUri is a service SAS URL and no blob is due.
    let mut story = Story::full();
    story
        .configure(p, false)
        .connection_test(p)
        .train(p, i)
        .trained(p, i, TrainingStatus::TrainingCompleted);
    let sas = ModelUri::parse("https://service.blob.core.windows.net/m/x.zip?sig=abc").unwrap();
    story
        .exported(p, i, ExportStatus::ExportCompleted, Some(sas))
        .wait(HOUR)
        .tick();
    assert_eq!(story.codes(p), Vec::<&str>::new());

    let mut story = Story::full();
    trained(&mut story);
    story
        .blob(p, i, ExportPlatform::CoreMl)
        .wait(20 * MINUTE)
        .tick();
    assert_eq!(story.codes(p), ["backup-blob-unannounced"]);
}

#[test]
fn model_uris_that_point_elsewhere() {
    let (p, i) = (project(1), iteration(1));
    let base = |story: &mut Story| {
        story
            .configure(p, true)
            .connection_test(p)
            .train(p, i)
            .trained(p, i, TrainingStatus::TrainingCompleted);
    };
    let mut story = Story::full();
    base(&mut story);
    let other = backup_uri(project(9), i, ExportPlatform::Onnx);
    story
        .exported(p, i, ExportStatus::ExportCompleted, Some(other))
        .blob(p, i, ExportPlatform::Onnx);
    assert_eq!(story.codes(p), ["model-uri-names-other-ids"]);

    let mut story = Story::full();
    base(&mut story);
    let elsewhere = ModelUri::parse(&format!(
        "https://attacker.example/backups/{p}%20-%20{i}.ONNX"
    ))
    .unwrap();
    story
        .exported(p, i, ExportStatus::ExportCompleted, Some(elsewhere))
        .blob(p, i, ExportPlatform::Onnx);
    assert_eq!(story.codes(p), ["model-uri-outside-container"]);
}

#[test]
fn a_redelivered_notification_adds_only_an_info_finding() {
    let (p, i) = (project(1), iteration(1));
    let mut once = Story::full();
    once.configure(p, true)
        .connection_test(p)
        .train(p, i)
        .trained(p, i, TrainingStatus::TrainingCompleted);
    let mut twice = Story::full();
    twice
        .configure(p, true)
        .connection_test(p)
        .train(p, i)
        .trained(p, i, TrainingStatus::TrainingCompleted)
        .redeliver_last();
    assert_eq!(once.report(p).history, twice.report(p).history);
    assert_eq!(twice.codes(p), ["duplicate-delivery"]);
    assert_eq!(
        twice.report(p).findings[0].code.severity(),
        cvnotify_core::lifecycle::Severity::Info
    );
}

#[test]
fn refused_api_calls_are_reported() {
    let p = project(1);
    let mut story = Story::full();
    story.configure(p, true).connection_test(p).rejected(
        p,
        Operation::ExportIteration,
        RejectionCode::ExportAlreadyInProgress,
    );
    assert_eq!(story.codes(p), ["api-rejected"]);
}

#[test]
fn findings_that_need_an_unobserved_source_are_not_raised() {
    let (p, i) = (project(1), iteration(1));
    let queue_only = Sources::QUEUE;
    let mut story = Story::new(queue_only);
    story.configure(p, true).train(p, i).wait(25 * HOUR).tick();
    assert_eq!(story.codes(p), Vec::<&str>::new());
    let no_container = Sources {
        container: false,
        ..Sources::ALL
    };
    let mut story = Story::new(no_container);
    story
        .happy(p, i)
        .blob(p, i, ExportPlatform::Vaidk)
        .wait(HOUR)
        .tick();
    assert_eq!(story.codes(p), Vec::<&str>::new());
}

#[test]
fn several_projects_are_judged_apart() {
    let mut story = Story::full();
    story.happy(project(1), iteration(1));
    story.configure(project(2), true).wait(HOUR).tick();
    story.happy(project(3), iteration(3));
    let reports = story.tracker.report();
    assert_eq!(reports.len(), 3);
    assert_eq!(story.codes(project(1)), Vec::<&str>::new());
    assert_eq!(story.codes(project(2)), ["connection-test-missing"]);
    assert_eq!(story.codes(project(3)), Vec::<&str>::new());
}

/// The report carries the evidence of each finding: which inputs show it.
#[test]
fn findings_name_their_evidence() {
    let (p, i) = (project(1), iteration(1));
    let mut story = Story::full();
    story
        .configure(p, true) // 1
        .connection_test(p) // 2
        .train(p, i) // 3
        .poll_iteration(p, i, IterationStatus::Failed) // 4
        .trained(p, i, TrainingStatus::TrainingCompleted); // 5
    let report = story.report(p);
    let f = &report.findings[0];
    assert_eq!(f.code.as_str(), "training-contradicts-polling");
    assert_eq!(f.iteration_id, Some(i));
    let evidence: Vec<u32> = f.evidence.iter().map(|s| s.evidence.get()).collect();
    assert_eq!(evidence, [4, 5]);
    assert_eq!(f.at.millis(), 5 * MINUTE);
}

/// Issue 12: two notifications with the same `at` gave PASS in one evidence order and
/// `export-of-untrained-iteration` in the other. Same-instant steps are judged in the order the
/// lifecycle allows, whatever their evidence numbers.
#[test]
fn equal_times_are_judged_in_lifecycle_order_not_by_evidence() {
    let (p, i) = (project(1), iteration(1));
    for export_first in [false, true] {
        let mut story = Story::full();
        story.configure(p, true).connection_test(p).train(p, i);
        if export_first {
            story
                .exported_to(p, i, ExportPlatform::Onnx)
                .at_once()
                .trained(p, i, TrainingStatus::TrainingCompleted);
        } else {
            story
                .trained(p, i, TrainingStatus::TrainingCompleted)
                .at_once()
                .exported_to(p, i, ExportPlatform::Onnx);
        }
        story
            .at_once()
            .blob(p, i, ExportPlatform::Onnx)
            .at_once()
            .export(p, i, ExportPlatform::Onnx);
        assert_eq!(
            story.codes(p),
            Vec::<&str>::new(),
            "export first: {export_first}"
        );
        assert_eq!(
            story.report(p).phase,
            Phase::Exported,
            "export first: {export_first}"
        );
    }
    // A configuration and its connection test in the same second: the test counts.
    let mut story = Story::full();
    story
        .connection_test(p)
        .at_once()
        .configure(p, true)
        .wait(HOUR)
        .tick();
    assert_eq!(story.codes(p), Vec::<&str>::new());
}

/// Issue 12: deadlines caught absence, not lateness. Late is a finding of its own (a warning:
/// the integration works, slower than the deadline).
#[test]
fn late_events_are_findings_of_their_own() {
    let (p, i) = (project(1), iteration(1));
    let deadlines = Deadlines::default();
    let mut story = Story::full();
    story
        .configure(p, true)
        .wait(33 * MINUTE)
        .connection_test(p)
        .train(p, i)
        .wait(deadlines.training_notification + HOUR)
        .trained(p, i, TrainingStatus::TrainingCompleted)
        .exported_to(p, i, ExportPlatform::Onnx)
        .wait(2 * HOUR)
        .blob(p, i, ExportPlatform::Onnx)
        .blob(p, i, ExportPlatform::CoreMl)
        .wait(20 * MINUTE)
        .exported_to(p, i, ExportPlatform::CoreMl)
        .tick();
    assert_eq!(
        story.codes(p),
        [
            "connection-test-late",
            "training-notification-late",
            "backup-blob-late",
            "export-notification-late"
        ]
    );
    let report = story.report(p);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.code.severity() == cvnotify_core::lifecycle::Severity::Warning)
    );
    // On time, none of them.
    let mut story = Story::full();
    story.happy(p, i).wait(HOUR).tick();
    assert_eq!(story.codes(p), Vec::<&str>::new());
}

/// `check` against real endpoints reported a false `unconfigured-project` when the
/// ConnectionTest's queue time (known to the second) fell in the same second as the
/// CreateProject answer (known to the millisecond): `...:55Z` was taken for before
/// `...:55.867Z`. Every millisecond of that second is judged, and a ConnectionTest from an
/// earlier second is still one that came before any configuration.
#[test]
fn a_connection_test_in_the_same_second_as_the_configuration_is_after_it() {
    let second = 1_700_000_055_000;
    for offset in 0..1000 {
        let p = project(1);
        let mut story = Story::full();
        story
            .at_time(second + offset)
            .configure(p, true)
            .at_time(second)
            .connection_test(p);
        assert_eq!(
            story.codes(p),
            Vec::<&str>::new(),
            "configured at +{offset} ms"
        );
        assert_eq!(story.report(p).phase, Phase::ConnectionTested);
    }
    let p = project(1);
    let mut story = Story::full();
    story
        .at_time(second + 10)
        .configure(p, true)
        .at_time(second - 1000)
        .connection_test(p);
    assert!(story.codes(p).contains(&"unconfigured-project"));
}
