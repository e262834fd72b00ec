//! The training API client against a wiremock server: each call's method, path, query, headers
//! and body; both forms of the storage options; which calls retry; typed errors; no secret in
//! any error or `Debug`.

use std::time::Duration;

use cvnotify_core::lifecycle::{ExportFlavor, ExportJobStatus, IterationStatus};
use cvnotify_core::{ExportPlatform, IterationId, ProjectId};
use cvnotify_harness::storage::RetryPolicy;
use cvnotify_harness::training::{
    ErrorCode, NewProject, OptionsForm, StorageOptions, TrainOptions, TrainingClient,
    TrainingError, TrainingKey,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "KEYCANARY0123456789";
const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
const I: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const QUEUE: &str = "https://acct.queue.core.windows.net/cv-notes?sv=2021-08-06&sig=SIGCANARY";
const CONTAINER: &str = "https://acct.blob.core.windows.net/cv-backups";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(5),
    }
}

fn client(server: &MockServer, form: OptionsForm) -> TrainingClient {
    TrainingClient::new(&server.uri(), TrainingKey::new(KEY), form, fast_retries()).unwrap()
}

fn project_json(settings: Value) -> Value {
    json!({"id": P, "name": "birds", "description": "", "settings": settings,
           "created": "2026-11-26T08:00:00Z", "status": "Succeeded"})
}

fn storage() -> StorageOptions {
    StorageOptions {
        export_model_container_uri: Some(CONTAINER.into()),
        notification_queue_uri: Some(QUEUE.into()),
    }
}

fn birds() -> NewProject {
    NewProject {
        name: "birds".into(),
        storage: storage(),
        ..NewProject::default()
    }
}

fn no_secret(text: &str) {
    for canary in [KEY, "SIGCANARY"] {
        assert!(!text.contains(canary), "{canary} leaked: {text}");
    }
}

#[test]
fn create_project_sends_the_storage_uris_as_query_parameters_on_v3_3() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/customvision/v3.3/training/projects"))
            .and(query_param("name", "birds"))
            .and(query_param("exportModelContainerUri", CONTAINER))
            .and(query_param("notificationQueueUri", QUEUE))
            .and(header("Training-Key", KEY))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(project_json(json!({
                "exportModelContainerUri": CONTAINER, "notificationQueueUri": QUEUE}))),
            )
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server, OptionsForm::Query);
        let p = c.create_project(&birds()).await.unwrap();
        assert_eq!(p.id, ProjectId::parse(P).unwrap());
        assert_eq!(p.settings.storage, storage());
        let sent = &server.received_requests().await.unwrap()[0];
        assert!(sent.body.is_empty(), "the query form sends no body");
        no_secret(&format!("{c:?} {p:?}"));
    });
}

#[test]
fn create_project_sends_a_create_project_options_body_on_v3_4_preview() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/customvision/v3.4-preview/training/projects"))
            .and(query_param("name", "birds"))
            .and(header("content-type", "application/json; charset=utf-8"))
            .and(body_json(json!({
                "exportModelContainerUri": CONTAINER, "notificationQueueUri": QUEUE})))
            .respond_with(ResponseTemplate::new(200).set_body_json(project_json(json!({}))))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server, OptionsForm::Body);
        c.create_project(&birds()).await.unwrap();
        let sent = &server.received_requests().await.unwrap()[0];
        assert!(
            !sent.url.query().unwrap_or_default().contains("Uri"),
            "the body form keeps the URIs out of the query"
        );
    });
}

#[test]
fn configure_storage_patches_the_whole_project_with_the_uris_in_settings() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        let before = project_json(json!({"domainId": "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31",
                                         "useNegativeSet": true}));
        Mock::given(method("GET"))
            .and(path(format!("/customvision/v3.3/training/projects/{P}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(&before))
            .expect(1)
            .mount(&server)
            .await;
        let mut after = before.clone();
        after["settings"]["exportModelContainerUri"] = json!(CONTAINER);
        after["settings"]["notificationQueueUri"] = json!(QUEUE);
        Mock::given(method("PATCH"))
            .and(path(format!("/customvision/v3.3/training/projects/{P}")))
            .and(body_json(&after))
            .respond_with(ResponseTemplate::new(200).set_body_json(&after))
            .expect(1)
            .mount(&server)
            .await;
        let p = client(&server, OptionsForm::Query)
            .configure_storage(ProjectId::parse(P).unwrap(), &storage())
            .await
            .unwrap();
        assert_eq!(p.settings.storage, storage());
    });
}

#[test]
fn reads_retry_on_503_with_retry_after_but_train_and_export_never_repeat() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        let iterations = format!("/customvision/v3.3/training/projects/{P}/iterations");
        Mock::given(method("GET"))
            .and(path(&iterations))
            .respond_with(ResponseTemplate::new(503).insert_header("x-ms-retry-after-ms", "10"))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(&iterations))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                {"id": I, "name": "Iteration 1", "status": "Completed", "projectId": P,
                 "exportable": true, "exportableTo": ["ONNX", "DockerFile"]}])))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(format!(
                "/customvision/v3.3/training/projects/{P}/train"
            )))
            .and(query_param("trainingType", "Regular"))
            .and(query_param("forceTrain", "true"))
            .respond_with(ResponseTemplate::new(503))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(format!(
                "/customvision/v3.3/training/projects/{P}/iterations/{I}/export"
            )))
            .respond_with(ResponseTemplate::new(503))
            .expect(1)
            .mount(&server)
            .await;
        let c = client(&server, OptionsForm::Query);
        let (p, i) = (ProjectId::parse(P).unwrap(), IterationId::parse(I).unwrap());
        let its = c.get_iterations(p).await.unwrap();
        assert_eq!(its.len(), 1);
        assert_eq!(its[0].known_status(), Some(IterationStatus::Completed));
        assert_eq!(its[0].exportable_to, ["ONNX", "DockerFile"]);
        let train = c
            .train_project(
                p,
                &TrainOptions {
                    force: true,
                    ..TrainOptions::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(train.status().map(|s| s.as_u16()), Some(503));
        let export = c
            .export_iteration(p, i, ExportPlatform::Onnx, None)
            .await
            .unwrap_err();
        assert_eq!(export.status().map(|s| s.as_u16()), Some(503));
        // `expect` counts are checked when the server drops: 2 reads, 1 train, 1 export.
    });
}

#[test]
fn export_and_get_exports_carry_platform_and_flavor_and_keep_service_codes() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        let export = format!("/customvision/v3.3/training/projects/{P}/iterations/{I}/export");
        Mock::given(method("POST"))
            .and(path(&export))
            .and(query_param("platform", "DockerFile"))
            .and(query_param("flavor", "ARM"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!(
                {"platform": "DockerFile", "status": "Exporting", "downloadUri": "",
                 "flavor": "ARM", "newerVersionAvailable": false})))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(&export))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!(
                {"code": "BadRequestExportAlreadyInProgress",
                 "message": format!("{I} is already queued for export")})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(&export))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                {"platform": "DockerFile", "status": "Done", "flavor": "ARM",
                 "downloadUri": "https://irisprod.blob.core.windows.net/m.zip?sig=SIGCANARY",
                 "newerVersionAvailable": false},
                {"platform": "FuturePlatform", "status": "Queued", "downloadUri": null}])))
            .mount(&server)
            .await;
        let c = client(&server, OptionsForm::Query);
        let (p, i) = (ProjectId::parse(P).unwrap(), IterationId::parse(I).unwrap());
        let first = c
            .export_iteration(p, i, ExportPlatform::DockerFile, Some(ExportFlavor::Arm))
            .await
            .unwrap();
        assert_eq!(first.known_status(), Some(ExportJobStatus::Exporting));
        let again = c
            .export_iteration(p, i, ExportPlatform::DockerFile, Some(ExportFlavor::Arm))
            .await
            .unwrap_err();
        assert_eq!(
            again.code(),
            Some(&ErrorCode::BadRequestExportAlreadyInProgress)
        );
        assert!(again.to_string().contains("already queued"), "{again}");
        let exports = c.get_exports(p, i).await.unwrap();
        assert_eq!(exports[0].known_status(), Some(ExportJobStatus::Done));
        assert!(exports[0].has_download_uri);
        assert_eq!(exports[1].known_platform(), None);
        assert_eq!(exports[1].known_status(), None);
        assert_eq!(exports[1].status, "Queued");
        no_secret(&format!("{exports:?}"));
        // A flavor of another platform is refused before any request.
        let before = server.received_requests().await.unwrap().len();
        let wrong = c
            .export_iteration(p, i, ExportPlatform::Onnx, Some(ExportFlavor::Arm))
            .await
            .unwrap_err();
        assert!(
            wrong.to_string().contains("ARM belongs to DockerFile"),
            "{wrong}"
        );
        assert_eq!(server.received_requests().await.unwrap().len(), before);
    });
}

#[test]
fn gateway_401_unknown_codes_bad_bodies_and_dead_endpoints_are_typed_and_leak_nothing() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("/customvision/v3.3/training/projects/{P}")))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint."}})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/customvision/v3.3/training/projects/{P}/iterations/{I}")))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!(
                {"code": "NotFoundIterationSomewhereNew", "message": "gone"})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/customvision/v3.3/training/projects/{P}/iterations")))
            .respond_with(ResponseTemplate::new(200).set_body_string("[{\"id\": 7}]"))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/customvision/v3.3/training/projects"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "code": "BadRequestInvalidUri",
                "message": format!("The uri {QUEUE} is not valid")})))
            .mount(&server)
            .await;
        let c = client(&server, OptionsForm::Query);
        let (p, i) = (ProjectId::parse(P).unwrap(), IterationId::parse(I).unwrap());
        let mut errors = Vec::new();

        let gateway = c.get_project(p).await.unwrap_err();
        assert!(
            matches!(&gateway, TrainingError::Gateway { code, .. } if code == "401"),
            "{gateway:?}"
        );
        errors.push(gateway);

        let unknown = c.get_iteration(p, i).await.unwrap_err();
        assert_eq!(
            unknown.code(),
            Some(&ErrorCode::Unrecognized("NotFoundIterationSomewhereNew".into()))
        );
        errors.push(unknown);

        let body = c.get_iterations(p).await.unwrap_err();
        assert!(matches!(&body, TrainingError::Body { operation: "GetIterations", .. }));
        assert!(body.to_string().contains("column"), "{body}");
        errors.push(body);

        let echoed = c
            .create_project(&birds())
            .await
            .unwrap_err();
        assert_eq!(echoed.code(), Some(&ErrorCode::BadRequestInvalidUri));
        errors.push(echoed);

        // A closed port: transport errors after the policy's retries, without the URL (its
        // query holds the SAS).
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dead = TrainingClient::new(
            &format!("http://127.0.0.1:{port}"),
            TrainingKey::new(KEY),
            OptionsForm::Query,
            fast_retries(),
        )
        .unwrap();
        let transport = dead
            .create_project(&birds())
            .await
            .unwrap_err();
        assert!(matches!(transport, TrainingError::Transport { .. }), "{transport:?}");
        errors.push(transport);

        for e in &errors {
            no_secret(&format!("{e} {e:?}"));
        }
        assert!(
            TrainingClient::new(
                "https://x.cognitiveservices.azure.com/?key=1",
                TrainingKey::new(KEY),
                OptionsForm::Query,
                fast_retries()
            )
            .is_err()
        );
    });
}
