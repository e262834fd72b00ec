//! The command line, declared with clap's derive API: every subcommand and flag, with its help.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Verify an Azure Custom Vision storage integration: notifications, backups, lifecycle.
#[derive(Debug, Parser)]
#[command(name = "cvnotify", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Parse one queue message (its raw MessageText) and say whether it is accepted.
    ///
    /// Exit 0: accepted. Exit 1: rejected (the reason on stderr). Exit 2: usage or I/O error.
    Parse(ParseArgs),
    /// Judge recorded sessions (JSON Lines recordings): parse every message, follow every
    /// project's lifecycle, report findings.
    ///
    /// Exit 0: PASS or NON-STRICT (only deviations and warnings). Exit 1: FAIL (or NON-STRICT
    /// under --strict). Exit 2: usage or I/O error.
    Replay(ReplayArgs),
    /// Consume a notification queue: follow every project's lifecycle live, never lose a
    /// message (poison after --max-dequeue attempts), optionally record everything.
    ///
    /// With --drain it ends when the queue is empty, with replay's report and exit codes;
    /// otherwise Ctrl-C ends it after the batch in hand.
    Watch(WatchArgs),
    /// Run a client through the whole storage-integration lifecycle and judge it: create a
    /// project with a queue and a container, wait for the connection test, train, export, and
    /// check every notification and backup blob. Without --training-endpoint it runs against
    /// the embedded simulation, on virtual time.
    Check(CheckArgs),
    /// Run the simulated Custom Vision and Storage endpoints as a standalone server, so a client
    /// in any language can be tested against them. Prints one JSON line with the endpoints, then
    /// serves until stopped.
    Simulate(SimulateArgs),
    /// Write a synthetic recording (for benchmarks and demos): many projects, whole lifecycles.
    #[command(hide = true)]
    GenerateRecording(GenerateArgs),
    /// Render the lifecycle transition table as a state diagram.
    Diagram(DiagramArgs),
    /// List every finding: code, severity, the seed section it rests on, the sources it needs.
    Findings(FindingsArgs),
}

/// Diagram formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiagramFormat {
    /// Mermaid `stateDiagram-v2` (GitHub renders it in Markdown).
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DiagramArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiagramFormat::Mermaid)]
    pub(crate) format: DiagramFormat,
}

/// Catalogue formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FindingsFormat {
    /// A Markdown table.
    Markdown,
    /// One JSON array.
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct FindingsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FindingsFormat::Markdown)]
    pub(crate) format: FindingsFormat,
}

/// Output formats of `parse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ParseFormat {
    /// Lines for a person.
    Human,
    /// One JSON object on stdout: {"encoding", "message", "deviations"}, or {"error"} when
    /// rejected. Secrets in `modelUri` are redacted.
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ParseArgs {
    /// File holding the message text; `-` reads stdin.
    #[arg(default_value = "-")]
    pub(crate) file: PathBuf,
    /// Reject any deviation from the documented format.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ParseFormat::Human)]
    pub(crate) format: ParseFormat,
    /// Keep a final line ending as part of the message. By default one trailing "\n" or "\r\n"
    /// (as `echo` and editors add) is dropped before parsing.
    #[arg(long)]
    pub(crate) exact: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// Recordings to judge (`-` reads stdin).
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// NON-STRICT (deviations and warnings) fails too.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::report::Format::Human)]
    pub(crate) format: crate::report::Format,
    /// Write the report here instead of stdout.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// Only these check codes count (comma-separated or repeated); the rest are waived.
    #[arg(long, value_delimiter = ',')]
    pub(crate) select: Vec<String>,
    /// Waive these check codes (comma-separated or repeated): reported, but not counted.
    #[arg(long, value_delimiter = ',')]
    pub(crate) exclude: Vec<String>,
    /// No colour, even on a terminal (as does a non-empty NO_COLOR).
    #[arg(long, alias = "no-colour")]
    pub(crate) no_color: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    /// About how many lines to write.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) lines: u64,
    /// Over how many projects.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) projects: u32,
    /// `lifecycles`: every project keeps training and exporting new iterations (the state grows
    /// with the file). `steady`: one lifecycle per project, then polls and ticks only (the state
    /// stays the same however long the file is).
    #[arg(long, value_enum, default_value_t = Shape::Lifecycles)]
    pub(crate) shape: Shape,
}

/// What a generated recording looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Shape {
    Lifecycles,
    Steady,
}

/// Where CreateProject puts the storage URIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormArg {
    /// Query parameters on v3.3 (the seed's example).
    Query,
    /// A CreateProjectOptions JSON body on v3.4-preview (the SDKs).
    Body,
}

/// How the simulated service encodes its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EncodingArg {
    /// JSON text.
    Plain,
    /// Base64 of the JSON text.
    Base64,
}

impl From<EncodingArg> for crate::sim::MessageEncoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::Plain => Self::Plain,
            EncodingArg::Base64 => Self::Base64,
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// The loopback port (a free one when absent).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// Fixes the ids the service hands out: the same seed replays the same run.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u32,
    /// How the service encodes its messages.
    #[arg(long, value_enum, default_value_t = EncodingArg::Plain)]
    pub(crate) encoding: EncodingArg,
    /// What the service gets wrong (as for `cvnotify check --faults`).
    #[arg(long)]
    pub(crate) faults: Option<String>,
    /// Virtual seconds per wall-clock second (training takes a virtual minute).
    #[arg(long, default_value_t = 60.0)]
    pub(crate) speed: f64,
    /// Accept the Training-Key in this environment variable instead of a generated one (then
    /// the key is not printed).
    #[arg(long)]
    pub(crate) training_key_env: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Export platforms to check (repeat the flag for several).
    #[arg(long = "platform", default_values_t = ["ONNX".to_string(), "DockerFile".to_string()])]
    pub(crate) platforms: Vec<String>,
    /// Where CreateProject puts the storage URIs.
    #[arg(long, value_enum, default_value_t = FormArg::Query)]
    pub(crate) form: FormArg,
    /// The simulated service's message encoding.
    #[arg(long, value_enum, default_value_t = EncodingArg::Plain)]
    pub(crate) encoding: EncodingArg,
    /// A real Custom Vision training endpoint instead of the simulation.
    #[arg(long, requires_all = ["training_key_env", "queue", "container"])]
    pub(crate) training_endpoint: Option<String>,
    /// Environment variable holding the Training-Key.
    #[arg(long)]
    pub(crate) training_key_env: Option<String>,
    /// The notification queue URL (with a SAS, or see --account-key-env).
    #[arg(long)]
    pub(crate) queue: Option<String>,
    /// The backup container URL.
    #[arg(long)]
    pub(crate) container: Option<String>,
    /// Environment variable holding the storage account key.
    #[arg(long)]
    pub(crate) account_key_env: Option<String>,
    /// Against the simulation: what the service gets wrong, e.g.
    /// `no-backup-blob,api#2=503,queue#1=malformed`. Misbehaviours: skip-connection-test,
    /// drop-training-notification, conflicting-training-status, training-contradicts-polling,
    /// export-before-training, export-contradicts-polling, no-backup-blob, wrong-blob-name,
    /// model-uri-outside-container, drop-export-notification, duplicate-delivery. HTTP faults:
    /// ENDPOINT#N=FAULT with ENDPOINT api|queue|blob, FAULT 429|500|503|malformed|empty|delay:MS|
    /// delay:MIN-MAX;
    /// conn#N=reset resets the N-th TCP connection. Not misbehaviours: training-fails,
    /// export-fails, reorder-notifications.
    #[arg(long, conflicts_with = "training_endpoint")]
    pub(crate) faults: Option<String>,
    /// Against the simulation: fixes the ids it hands out.
    #[arg(long, default_value_t = 0, conflicts_with = "training_endpoint")]
    pub(crate) seed: u32,
    /// Against a real endpoint: longest wait for each notification, in seconds.
    #[arg(long, default_value_t = 1800)]
    pub(crate) timeout: u64,
    #[command(flatten)]
    pub(crate) report: SessionOutput,
}

/// Where a live session's recording and report go (`watch`, `check`).
#[derive(Debug, clap::Args)]
pub(crate) struct SessionOutput {
    /// Write everything observed to this recording (secrets redacted).
    #[arg(long)]
    pub(crate) record: Option<PathBuf>,
    /// Report format at the end.
    #[arg(long, value_enum, default_value_t = crate::report::Format::Human)]
    pub(crate) format: crate::report::Format,
    /// Write the report here instead of stdout.
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// NON-STRICT fails too.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct WatchArgs {
    /// The queue URL (a SAS in its query authorizes; or see --account-key-env).
    #[arg(long)]
    pub(crate) queue: String,
    /// The backup container URL, listed each cycle to observe backup and test blobs.
    #[arg(long)]
    pub(crate) container: Option<String>,
    /// Environment variable holding the storage account key (Shared Key instead of a SAS).
    #[arg(long)]
    pub(crate) account_key_env: Option<String>,
    /// Read without consuming: one page of up to 32 messages, nothing deleted.
    #[arg(long, conflicts_with = "drain")]
    pub(crate) peek: bool,
    /// End when the queue holds no message (hidden ones included).
    #[arg(long)]
    pub(crate) drain: bool,
    #[command(flatten)]
    pub(crate) report: SessionOutput,
    /// Attempts before an unparseable message goes to `<queue>-poison`.
    #[arg(long, default_value_t = 5)]
    pub(crate) max_dequeue: u32,
    /// Seconds a received message stays hidden (its redelivery delay when not deleted).
    #[arg(long, default_value_t = 30)]
    pub(crate) visibility: u64,
    /// Longest wait between polls of an empty queue, in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub(crate) max_interval: f64,
    /// Allow plain http to a non-loopback host (an emulator elsewhere).
    #[arg(long)]
    pub(crate) emulator: bool,
    /// The Custom Vision training endpoint (`https://NAME.cognitiveservices.azure.com/`): each
    /// Training and Export notification is cross-checked with GetIteration / GetExports.
    #[arg(long, requires = "training_key_env")]
    pub(crate) training_endpoint: Option<String>,
    /// Environment variable holding the Training-Key for --training-endpoint.
    #[arg(long, requires = "training_endpoint")]
    pub(crate) training_key_env: Option<String>,
}
