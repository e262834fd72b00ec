//! What the simulation can be told to get wrong, from a small text spec (`--faults`):
//! misbehaviours of the service itself (each with the finding the lifecycle model must raise
//! for it, in [`DETECTION`]), and HTTP faults on the n-th request to an endpoint.
//!
//! Spec: comma-separated items. A misbehaviour by name (`skip-connection-test`); an HTTP fault
//! as `ENDPOINT#N=FAULT`, where ENDPOINT is `api`, `queue` or `blob`, N counts that endpoint's
//! requests from 1 (`N-M`: every request from N to M, an outage), and FAULT is a status (`429`, `500`, `503`; 429 and 503 carry
//! `Retry-After: 1`), `error:CODE` (the documented error answer of that code), `malformed` (a 200
//! whose body is not the documented one), `empty` (a 200 with no body) or `delay:MS`. `conn#N=reset` resets the N-th TCP connection the server accepts
//! (wiremock cannot; a thin TCP layer in front of it does, see `reset.rs`).

/// A way the simulated service misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Misbehaviour {
    /// No ConnectionTest message after configuration.
    SkipConnectionTest,
    /// No Training notification when training ends.
    DropTrainingNotification,
    /// Both TrainingCompleted and TrainingFailed for the iteration.
    ConflictingTrainingStatus,
    /// GetIteration says Failed while the notification says TrainingCompleted.
    TrainingContradictsPolling,
    /// An Export notification (ExportCompleted) as soon as training starts.
    ExportBeforeTraining,
    /// GetExports says Failed while the notification says ExportCompleted.
    ExportContradictsPolling,
    /// ExportCompleted, but no backup blob written.
    NoBackupBlob,
    /// The backup blob and the modelUri name another iteration.
    WrongBlobName,
    /// The modelUri points into another container.
    ModelUriOutsideContainer,
    /// The backup blob is written but no Export notification is posted.
    DropExportNotification,
    /// Every notification is posted twice.
    DuplicateDelivery,
    /// Training ends in failure (a legitimate outcome, correctly notified).
    TrainingFails,
    /// Exports end in failure (a legitimate outcome, correctly notified).
    ExportFails,
    /// Each new message goes to the front of the queue (queues do not promise order).
    ReorderNotifications,
}

/// Each misbehaviour and the finding `cvnotify check` must report for it.
pub const DETECTION: &[(Misbehaviour, &str, &str)] = &[
    (
        Misbehaviour::SkipConnectionTest,
        "skip-connection-test",
        "connection-test-missing",
    ),
    (
        Misbehaviour::DropTrainingNotification,
        "drop-training-notification",
        "training-notification-missing",
    ),
    (
        Misbehaviour::ConflictingTrainingStatus,
        "conflicting-training-status",
        "training-status-conflict",
    ),
    (
        Misbehaviour::TrainingContradictsPolling,
        "training-contradicts-polling",
        "training-contradicts-polling",
    ),
    (
        Misbehaviour::ExportBeforeTraining,
        "export-before-training",
        "export-of-untrained-iteration",
    ),
    (
        Misbehaviour::ExportContradictsPolling,
        "export-contradicts-polling",
        "export-contradicts-polling",
    ),
    (
        Misbehaviour::NoBackupBlob,
        "no-backup-blob",
        "backup-blob-missing",
    ),
    (
        Misbehaviour::WrongBlobName,
        "wrong-blob-name",
        "model-uri-names-other-ids",
    ),
    (
        Misbehaviour::ModelUriOutsideContainer,
        "model-uri-outside-container",
        "model-uri-outside-container",
    ),
    (
        Misbehaviour::DropExportNotification,
        "drop-export-notification",
        "backup-blob-unannounced",
    ),
    (
        Misbehaviour::DuplicateDelivery,
        "duplicate-delivery",
        "duplicate-delivery",
    ),
];

/// Behaviours a correct integration must take in its stride: each with the phase `cvnotify
/// check` must end in, with no finding above info.
pub const OUTCOMES: &[(Misbehaviour, &str, &str)] = &[
    (
        Misbehaviour::TrainingFails,
        "training-fails",
        "TrainingFailed",
    ),
    (Misbehaviour::ExportFails, "export-fails", "ExportFailed"),
    (
        Misbehaviour::ReorderNotifications,
        "reorder-notifications",
        "Exported",
    ),
];

impl Misbehaviour {
    /// Its name in a spec.
    pub fn name(self) -> &'static str {
        DETECTION
            .iter()
            .chain(OUTCOMES)
            .find(|(m, _, _)| *m == self)
            .map_or("", |(_, n, _)| n)
    }
}

/// Which endpoint an HTTP fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The training API.
    Api,
    /// Queue requests.
    Queue,
    /// Container and blob requests.
    Blob,
}

/// What an HTTP fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpFault {
    /// Answer with this status (429 and 503 with `Retry-After: 1`).
    Status(u16),
    /// Answer with the documented error body of this code: a `CustomVisionError` on the
    /// training API (status by the code's prefix: `BadRequest…` 400, `Forbidden…` 403,
    /// `NotFound…` 404, `Conflict…` 409, `Error…` 500), a storage `<Error>` with
    /// `x-ms-error-code` on queues and blobs (status from the storage error table).
    Error(String),
    /// A 200 whose body is not the documented one.
    Malformed,
    /// A 200 with no body.
    Empty,
    /// The real answer, this many milliseconds late.
    Delay(u64),
    /// The real answer, late by a number of milliseconds in this range, drawn from the seed.
    RandomDelay(u64, u64),
}

/// A parsed fault spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Service misbehaviours.
    pub misbehaviours: Vec<Misbehaviour>,
    /// HTTP faults: endpoint, request number (from 1), fault.
    pub http: Vec<(Endpoint, u32, HttpFault)>,
    /// TCP connections (numbered from 1) to reset.
    pub resets: Vec<u32>,
}

/// A spec that cannot be read: the item and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fault {item:?}: {why}")]
pub struct FaultSpecError {
    /// The item as written.
    pub item: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Faults {
    /// Whether the service misbehaves this way.
    pub fn has(&self, m: Misbehaviour) -> bool {
        self.misbehaviours.contains(&m)
    }

    /// Reads a spec (see the module notes).
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let mut faults = Self::default();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = |why| FaultSpecError {
                item: item.to_string(),
                why,
            };
            if let Some((target, fault)) = item.split_once('=') {
                let (endpoint, n) = target
                    .split_once('#')
                    .ok_or_else(|| bad("an HTTP fault is ENDPOINT#N=FAULT"))?;
                if endpoint == "conn" {
                    let n: u32 = n
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad("N is a connection number from 1"))?;
                    if fault != "reset" {
                        return Err(bad("a connection fault is conn#N=reset"));
                    }
                    faults.resets.push(n);
                    continue;
                }
                let endpoint = match endpoint {
                    "api" => Endpoint::Api,
                    "queue" => Endpoint::Queue,
                    "blob" => Endpoint::Blob,
                    _ => return Err(bad("the endpoint is api, queue, blob or conn")),
                };
                // N, or N-M for every request from N to M (an outage).
                let number = |t: &str| {
                    t.parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad("N is a request number from 1 (or N-M, a range)"))
                };
                let (first, last) = match n.split_once('-') {
                    Some((a, b)) => (number(a)?, number(b)?),
                    None => (number(n)?, number(n)?),
                };
                if first > last || last - first >= 10_000 {
                    return Err(bad("a range N-M needs N <= M, and at most 10000 requests"));
                }
                let fault = match fault {
                    "malformed" => HttpFault::Malformed,
                    "empty" => HttpFault::Empty,
                    "429" | "500" | "503" => HttpFault::Status(fault.parse().unwrap_or(500)),
                    e if e.starts_with("error:") => {
                        let code = e.trim_start_matches("error:");
                        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
                            return Err(bad("error:CODE takes an error code (letters and digits)"));
                        }
                        HttpFault::Error(code.to_string())
                    }
                    d if d.starts_with("delay:") => {
                        let ms = |s: &str| {
                            s.parse::<u64>()
                                .map_err(|_| bad("delay:MS or delay:MIN-MAX takes milliseconds"))
                        };
                        match d.trim_start_matches("delay:").split_once('-') {
                            Some((lo, hi)) => {
                                let (lo, hi) = (ms(lo)?, ms(hi)?);
                                if lo > hi {
                                    return Err(bad("delay:MIN-MAX needs MIN <= MAX"));
                                }
                                HttpFault::RandomDelay(lo, hi)
                            }
                            None => HttpFault::Delay(ms(d.trim_start_matches("delay:"))?),
                        }
                    }
                    _ => {
                        return Err(bad(
                            "the fault is 429, 500, 503, error:CODE, malformed, empty or delay:MS",
                        ));
                    }
                };
                for n in first..=last {
                    faults.http.push((endpoint, n, fault.clone()));
                }
            } else {
                let m = DETECTION
                    .iter()
                    .chain(OUTCOMES)
                    .find(|(_, name, _)| *name == item)
                    .map(|(m, _, _)| *m)
                    .ok_or_else(|| bad("not a known misbehaviour (see cvnotify check --help)"))?;
                faults.misbehaviours.push(m);
            }
        }
        Ok(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_and_bad_items_are_named() {
        let f = Faults::parse(
            "no-backup-blob, api#2=503,queue#1=delay:20,blob#3=malformed,api#4=delay:5-9,api#5=error:BadRequestTrainingNotNeeded",
        )
        .unwrap();
        assert!(f.has(Misbehaviour::NoBackupBlob));
        assert_eq!(
            f.http,
            [
                (Endpoint::Api, 2, HttpFault::Status(503)),
                (Endpoint::Queue, 1, HttpFault::Delay(20)),
                (Endpoint::Blob, 3, HttpFault::Malformed),
                (Endpoint::Api, 4, HttpFault::RandomDelay(5, 9)),
                (
                    Endpoint::Api,
                    5,
                    HttpFault::Error("BadRequestTrainingNotNeeded".into())
                )
            ]
        );
        for (spec, why) in [
            ("teleport", "not a known misbehaviour"),
            ("api#0=503", "N is a request number"),
            ("api#5-3=503", "N <= M"),
            ("db#1=503", "the endpoint is"),
            ("api#1=418", "the fault is"),
            ("conn#1=503", "conn#N=reset"),
            ("api=503", "ENDPOINT#N=FAULT"),
        ] {
            let e = Faults::parse(spec).unwrap_err();
            assert!(e.to_string().contains(why), "{spec}: {e}");
        }
        assert_eq!(Faults::parse("queue#2-4=503").unwrap().http.len(), 3);
        for (m, name, _) in DETECTION.iter().chain(OUTCOMES) {
            assert_eq!(m.name(), *name);
        }
    }
}
