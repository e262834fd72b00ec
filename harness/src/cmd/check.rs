//! `cvnotify check`: a client run through the whole lifecycle (see [`crate::check`]) against
//! the embedded simulation or a real endpoint, then judged.

use std::sync::Arc;
use std::time::Duration;

use cvnotify_core::ExportPlatform;
use cvnotify_core::lifecycle::{Sources, Timestamp};

use super::prelude::credentials;
use super::prelude::{
    CmdError, EncodingArg, FormArg, SessionOutput, Signals, conclude, exit, secret_from_env,
};
use crate::check::{Check, Ending, Environment};
use crate::clock::{self, Now};
use crate::endpoint::check_transport;
use crate::recording::{Outcome, Scope};
use crate::session::{Header, Session};
use crate::sim::{Faults, MessageEncoding, Simulation};
use crate::storage::{Container, Queue, Resource, RetryPolicy};
use crate::training::{TrainingClient, TrainingKey};

/// The key the embedded simulation accepts (it guards nothing: the simulation is local).
const SIM_KEY: &str = "cvnotify-simulation-key";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Export platforms to check (repeat the flag for several).
    #[arg(long = "platform", default_values_t = ["ONNX".to_string(), "DockerFile".to_string()])]
    platforms: Vec<String>,
    /// Where CreateProject puts the storage URIs.
    #[arg(long, value_enum, default_value_t = FormArg::Query)]
    form: FormArg,
    /// The simulated service's message encoding.
    #[arg(long, value_enum, default_value_t = EncodingArg::Plain, conflicts_with = "training_endpoint")]
    encoding: EncodingArg,
    /// A real Custom Vision training endpoint instead of the simulation.
    #[arg(long, requires_all = ["training_key_env", "queue", "container"])]
    training_endpoint: Option<String>,
    /// With --training-endpoint: environment variable holding the Training-Key.
    #[arg(long, requires = "training_endpoint")]
    training_key_env: Option<String>,
    /// With --training-endpoint: the notification queue URL (with a SAS, or see
    /// --account-key-env). It should be the check's own: every message on it is judged.
    #[arg(long, requires = "training_endpoint")]
    queue: Option<String>,
    /// With --training-endpoint: the backup container URL.
    #[arg(long, requires = "training_endpoint")]
    container: Option<String>,
    /// With --training-endpoint: environment variable holding the storage account key.
    #[arg(long, requires = "training_endpoint")]
    account_key_env: Option<String>,
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
    faults: Option<String>,
    /// Against the simulation: fixes the ids it hands out.
    #[arg(long, default_value_t = 0, conflicts_with = "training_endpoint")]
    seed: u32,
    /// With --training-endpoint: longest wait for each notification, in seconds (1 to
    /// 604800). A wait that runs out makes the run incomplete.
    #[arg(long, default_value_t = 1800, requires = "training_endpoint", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    timeout: u64,
    /// Keep the project the check creates (it is deleted at the end by default: a resource
    /// has few projects to spare).
    #[arg(long)]
    keep_project: bool,
    #[command(flatten)]
    report: SessionOutput,
}

/// The platforms asked for, each once, in order.
fn platforms(names: &[String]) -> Result<Vec<ExportPlatform>, CmdError> {
    let mut platforms = Vec::new();
    for name in names {
        match ExportPlatform::from_name(name) {
            Some(p) if !platforms.contains(&p) => platforms.push(p),
            Some(_) => {}
            None => {
                let known: Vec<&str> = ExportPlatform::ALL.iter().map(|p| p.as_str()).collect();
                return Err(CmdError::usage(format!(
                    "unknown platform {name:?} (known: {})",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(platforms)
}

/// Where the run happens, with its endpoints, key and clock.
struct Target {
    env: Environment,
    endpoint: String,
    key: String,
    queue: String,
    container: String,
    clock: Now,
}

async fn simulated(args: &Args) -> Result<Target, CmdError> {
    // On a whole second: queue times (HTTP dates) have no milliseconds.
    let start = clock::wall().0 / 1000 * 1000;
    let mut sim = Simulation::start(start, MessageEncoding::from(args.encoding), SIM_KEY)
        .await
        .map_err(|e| CmdError::io("start the simulation", e))?;
    sim.set_seed(args.seed);
    if let Some(spec) = &args.faults {
        let faults = Faults::parse(spec).map_err(CmdError::usage)?;
        if !faults.resets.is_empty() {
            sim.reset_connections(faults.resets.clone())
                .await
                .map_err(|e| CmdError::io("start the reset layer", e))?;
        }
        sim.set_faults(faults);
    }
    // Made directly in the world: request faults count the check's own requests only.
    sim.create_queue("cvnotify-check-notifications");
    sim.create_container("cvnotify-check-backups");
    let sim_clock = sim.clock();
    Ok(Target {
        endpoint: sim.training_endpoint(),
        key: SIM_KEY.to_string(),
        queue: format!(
            "{}?{}",
            sim.queue_url("cvnotify-check-notifications"),
            sim.account_sas()
        ),
        container: format!(
            "{}?{}",
            sim.container_url("cvnotify-check-backups"),
            sim.account_sas()
        ),
        clock: Arc::new(move || Timestamp(sim_clock())),
        env: Environment::Simulated(Box::new(sim)),
    })
}

fn real(args: &Args, endpoint: &str) -> Result<Target, CmdError> {
    let var = args.training_key_env.as_deref().unwrap_or_default();
    let key = secret_from_env(var, "Training-Key")?;
    let (queue, container) = (
        args.queue.clone().unwrap_or_default(),
        args.container.clone().unwrap_or_default(),
    );
    for url in [endpoint, &queue, &container] {
        check_transport(url, false).map_err(CmdError::usage)?;
    }
    crate::endpoint::require_resource(&queue, "--queue", "queue").map_err(CmdError::usage)?;
    crate::endpoint::require_resource(&container, "--container", "container")
        .map_err(CmdError::usage)?;
    Ok(Target {
        env: Environment::Real {
            timeout: Duration::from_secs(args.timeout),
        },
        endpoint: endpoint.to_string(),
        key,
        queue,
        container,
        clock: clock::wall_now(),
    })
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    args.report.check_paths()?;
    let rules = args.report.judge.rules()?;
    let platforms = platforms(&args.platforms)?;
    let runtime = crate::sim::runtime().map_err(|e| CmdError::io("start", e))?;
    runtime.block_on(async {
        let mut signals = Signals::new()?;
        let target = match &args.training_endpoint {
            None => simulated(args).await?,
            Some(endpoint) => real(args, endpoint)?,
        };
        let simulated = matches!(target.env, Environment::Simulated(_));
        let resource = |url: &str| {
            let creds = credentials(url, args.account_key_env.as_deref())?;
            Resource::new(url, creds, RetryPolicy::default()).map_err(CmdError::usage)
        };
        let queue = Queue::new(resource(&target.queue)?);
        let container = Container::new(resource(&target.container)?);
        let api = TrainingClient::new(
            &target.endpoint,
            TrainingKey::new(&target.key),
            args.form.into(),
            RetryPolicy::default(),
        )
        .map_err(CmdError::usage)?;
        // A check judges the projects it creates: blobs and messages of others (a container
        // used before) are reported as information.
        let header = Header::new(Sources::ALL, Scope::Created, (target.clock)());
        let session = Session::new(header, args.report.recorder()?)
            .map_err(|e| CmdError::io("write the recording", e))?;
        let label = if simulated {
            "check (embedded simulation)".to_string()
        } else {
            format!("check {}", target.endpoint)
        };
        let started = (target.clock)().0;
        let name = format!("cvnotify-check-{started}");
        let mut check = Check {
            session,
            api,
            queue,
            container,
            env: target.env,
            clock: target.clock.clone(),
            shortfalls: Vec::new(),
            delete_project: !args.keep_project,
            created: None,
            live: args.report.live(),
        };
        let ending = tokio::select! {
            ending = check.run(&name, &platforms) => ending,
            () = signals.recv() => Ok(Ending::Incomplete("stopped by a signal".into())),
        };
        let (outcome, reason, refused) = match ending {
            Ok(Ending::Completed) => (Outcome::Completed, None, false),
            Ok(Ending::Refused(e)) => (Outcome::Incomplete, Some(e.to_string()), true),
            Ok(Ending::Incomplete(why)) => (Outcome::Incomplete, Some(why), false),
            Err(e) => (Outcome::Aborted, Some(e.to_string()), false),
        };
        let code = conclude(
            "check",
            check.session,
            ((target.clock)(), outcome, reason),
            &label,
            &args.report,
            &rules,
        )?;
        // A scenario that could not run to its end does not pass, whatever was judged.
        Ok(if refused && code == exit::OK {
            exit::REJECTED
        } else {
            code
        })
    })
}
