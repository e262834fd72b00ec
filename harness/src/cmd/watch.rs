//! `cvnotify watch`: consume a notification queue live (see [`crate::watch`]), then judge it.

use std::time::Duration;

use cvnotify_core::lifecycle::Sources;

use super::prelude::{
    CmdError, SessionOutput, Signals, conclude, credentials, seconds_between, secret_from_env,
};
use crate::clock;
use crate::endpoint::{check_transport, require_resource};
use crate::recording::{Outcome, Scope};
use crate::session::{Header, Session};
use crate::storage::{Container, Queue, Resource, RetryPolicy};
use crate::training::{OptionsForm, TrainingClient, TrainingKey};
use crate::watch::{Ending, Mode, Options, Watcher};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The queue URL (a SAS in its query authorizes; or see --account-key-env).
    #[arg(long)]
    queue: String,
    /// The backup container URL, listed each cycle to observe backup and test blobs.
    #[arg(long)]
    container: Option<String>,
    /// Environment variable holding the storage account key (Shared Key instead of a SAS).
    #[arg(long)]
    account_key_env: Option<String>,
    /// Read without consuming: one page of up to 32 messages, nothing deleted.
    #[arg(long, conflicts_with = "drain")]
    peek: bool,
    /// End when the queue holds no message (hidden ones included).
    #[arg(long)]
    drain: bool,
    /// This watcher is one of several consumers of the queue: it sees only its share, so what
    /// rests on a message not having come (`connection-test-missing`,
    /// `training-notification-missing`, `export-of-untrained-iteration`,
    /// `backup-blob-unannounced`) is deferred to `cvnotify replay --merge` of every watcher's
    /// recording.
    #[arg(long)]
    partial: bool,
    #[command(flatten)]
    report: SessionOutput,
    /// Attempts before an unparseable message goes to `<queue>-poison` (1 to 1000).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000), conflicts_with = "peek")]
    max_dequeue: u32,
    /// Seconds a received message stays hidden: its redelivery delay when not deleted (1 to
    /// 604800, seven days: the service's range).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=604_800), conflicts_with = "peek")]
    visibility: u64,
    /// Longest wait between polls of an empty queue, in seconds (0.1 to 3600).
    #[arg(long, default_value_t = 60.0, value_parser = seconds_between(0.1, 3600.0))]
    max_interval: f64,
    /// Allow plain http to a non-loopback host (an emulator elsewhere).
    #[arg(long)]
    emulator: bool,
    /// The Custom Vision training endpoint (`https://NAME.cognitiveservices.azure.com/`): each
    /// Training and Export notification is cross-checked with GetIteration / GetExports.
    #[arg(long, requires = "training_key_env")]
    training_endpoint: Option<String>,
    /// Environment variable holding the Training-Key for --training-endpoint.
    #[arg(long, requires = "training_endpoint")]
    training_key_env: Option<String>,
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    args.report.check_paths()?;
    let rules = args.report.judge.rules()?;
    for url in std::iter::once(&args.queue)
        .chain(&args.container)
        .chain(&args.training_endpoint)
    {
        check_transport(url, args.emulator).map_err(CmdError::usage)?;
    }
    require_resource(&args.queue, "--queue", "queue").map_err(CmdError::usage)?;
    if let Some(url) = &args.container {
        require_resource(url, "--container", "container").map_err(CmdError::usage)?;
    }
    let creds = credentials(&args.queue, args.account_key_env.as_deref())?;
    let queue = Queue::new(
        Resource::new(&args.queue, creds, RetryPolicy::default()).map_err(CmdError::usage)?,
    );
    let container = match &args.container {
        Some(url) => {
            let creds = credentials(url, args.account_key_env.as_deref())?;
            Some(Container::new(
                Resource::new(url, creds, RetryPolicy::default()).map_err(CmdError::usage)?,
            ))
        }
        None => None,
    };
    let training = match (&args.training_endpoint, &args.training_key_env) {
        (Some(endpoint), Some(var)) => {
            let key = TrainingKey::new(&secret_from_env(var, "Training-Key")?);
            Some(
                TrainingClient::new(
                    endpoint,
                    key,
                    OptionsForm::default(),
                    RetryPolicy::default(),
                )
                .map_err(CmdError::usage)?,
            )
        }
        _ => None,
    };
    let header = Header {
        sources: Sources {
            queue: true,
            training_api: false,
            polling: training.is_some(),
            container: container.is_some(),
        },
        scope: Scope::All,
        at: clock::wall(),
        scenario: None,
        duties: Vec::new(),
        partial: args.partial,
    };
    let options = Options {
        mode: if args.peek {
            Mode::Peek
        } else if args.drain {
            Mode::Drain
        } else {
            Mode::Consume
        },
        max_dequeue: args.max_dequeue,
        visibility: Duration::from_secs(args.visibility),
        max_interval: Duration::from_secs_f64(args.max_interval),
    };
    let mut session = Session::new(header, args.report.recorder()?)
        .map_err(|e| CmdError::io("write the recording", e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CmdError::io("start", e))?;
    let mut live = args.report.live();
    let ending = runtime.block_on(async {
        let mut signals = Signals::new()?;
        Ok::<_, CmdError>(
            Watcher {
                session: &mut session,
                queue: &queue,
                container: container.as_ref(),
                training: training.as_ref(),
                clock: clock::wall_now(),
                live: &mut live,
            }
            .run(options, signals.recv())
            .await,
        )
    })?;
    let (outcome, reason) = match ending {
        Ok(Ending::Done) => (Outcome::Completed, None),
        Ok(Ending::Stopped) => (Outcome::Stopped, None),
        Err(e) => (Outcome::Aborted, Some(e.to_string())),
    };
    let label = format!("watch {}", queue.resource().url());
    conclude(
        "watch",
        session,
        (clock::wall(), outcome, reason),
        &label,
        &args.report,
        &rules,
    )
}
