//! The messages and the no-checks baseline shared by the parse benchmark and the
//! instruction-count example (`examples/parse_count.rs`).

const P: &str = "0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
const I: &str = "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";

pub(crate) fn messages() -> Vec<(&'static str, String)> {
    vec![
        (
            "connection_test",
            format!(
                r#"{{"version":"1.0","type":"ConnectionTest","Content":{{"projectId":"{P}"}}}}"#
            ),
        ),
        (
            "training",
            format!(
                r#"{{"version":"1.0","type":"Training","Content":{{"projectId":"{P}","iterationId":"{I}","trainingStatus":"TrainingCompleted"}}}}"#
            ),
        ),
        (
            "export",
            format!(
                r#"{{"version":"1.0","type":"Export","Content":{{"projectId":"{P}","iterationId":"{I}","exportStatus":"ExportCompleted","modelUri":"https://cvbackup.blob.core.windows.net/backups/{P}%20-%20{I}.ONNX"}}}}"#
            ),
        ),
    ]
}

/// The documented shape, borrowed, with no validation: the floor.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
pub(crate) struct Floor<'a> {
    version: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(rename = "Content", borrow)]
    content: FloorContent<'a>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FloorContent<'a> {
    project_id: &'a str,
    iteration_id: Option<&'a str>,
    training_status: Option<&'a str>,
    export_status: Option<&'a str>,
    model_uri: Option<&'a str>,
}
