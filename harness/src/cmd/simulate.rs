//! `cvnotify simulate`: the simulation as a standalone loopback server for clients in any
//! language (the official SDKs, a user's own consumer). Three services, as Azure and Azurite
//! have them: the training API, the Blob service and the Queue service, each on its own port.
//! Time is the wall clock (a client's visibility timeouts and message lifetimes are real), and
//! the service's own delays are the `--*-seconds` settings; `POST /admin/settle` on the API's
//! port runs everything pending at once (the barrier a test waits on).

use std::io::Write as _;
use std::net::TcpListener;
use std::time::Duration;

use super::prelude::{CmdError, EncodingArg, exit, secret_from_env};
use crate::sim::{
    Clock, DEV_ACCOUNT, DEV_KEY, Faults, Listeners, MessageEncoding, Simulation, Timings, World,
};
use crate::storage::AccountKey;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The first of three loopback ports: the training API on PORT, the Blob service on PORT+1,
    /// the Queue service on PORT+2 (free ports when absent).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=65_533))]
    port: Option<u16>,
    /// Fixes the ids the service hands out: the same seed replays the same run.
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// How the service encodes its messages.
    #[arg(long, value_enum, default_value_t = EncodingArg::Plain)]
    encoding: EncodingArg,
    /// What the service gets wrong (as for `cvnotify check --faults`).
    #[arg(long)]
    faults: Option<String>,
    /// Seconds from configuring a project to its ConnectionTest message and test blob.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    connection_test_seconds: u64,
    /// Seconds the test blob stays in the container.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    test_blob_seconds: u64,
    /// Seconds a training takes.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    training_seconds: u64,
    /// Seconds an export takes.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    export_seconds: u64,
    /// Accept the Training-Key in this environment variable instead of a generated one (then
    /// the key is not printed).
    #[arg(long)]
    training_key_env: Option<String>,
    /// The storage account's name (Azurite's development account when absent).
    #[arg(long, requires = "account_key_env")]
    account: Option<String>,
    /// With --account: environment variable holding its key (base64); then nothing signed with
    /// it is printed (no key, connection string or SAS URLs).
    #[arg(long, requires = "account")]
    account_key_env: Option<String>,
    /// Environment variable holding the account's second key (base64, as Node decodes it):
    /// what it signs is authorized too, as Azure does for an account's two keys.
    #[arg(long)]
    secondary_key_env: Option<String>,
    /// Serve storage requests without authorization (neither Azure nor Azurite does).
    #[arg(long)]
    no_auth: bool,
    /// Append the journal (every request a client makes, every message the service delivers)
    /// to this recording; `cvnotify replay` judges the client from it. Without it, the journal
    /// is still kept for `GET /admin/journal`.
    #[arg(long)]
    record: Option<std::path::PathBuf>,
    /// With --record: what the client is responsible for beyond consuming (as for `verify`).
    #[arg(long = "duty", value_enum, requires = "record")]
    duties: Vec<super::prelude::DutyArg>,
}

/// The names of the simulation's own queue and container.
const QUEUE: &str = "notifications";
const CONTAINER: &str = "backups";

fn bind(port: u16) -> Result<TcpListener, CmdError> {
    TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| CmdError::io(format!("listen on 127.0.0.1:{port}"), e))
}

/// The three listeners for `--port`, or free ports.
fn listeners(port: Option<u16>) -> Result<Listeners, CmdError> {
    Ok(match port {
        Some(p) => Listeners {
            api: Some(bind(p)?),
            blob: Some(bind(p + 1)?),
            queue: Some(bind(p + 2)?),
        },
        None => Listeners::default(),
    })
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    let faults = match args.faults.as_deref().map(Faults::parse).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => return Err(CmdError::usage(e)),
    };
    let (key, shown_key) = match &args.training_key_env {
        Some(var) => (secret_from_env(var, "key")?, format!("from ${var}")),
        None => {
            let k = format!("simulated-training-key-{:08x}", args.seed);
            (k.clone(), k)
        }
    };
    let account = match (&args.account, &args.account_key_env) {
        (Some(name), Some(var)) => {
            let text = secret_from_env(var, "account key")?;
            let key = AccountKey::from_base64(&text)
                .map_err(|_| CmdError::usage(format!("${var} holds no base64 account key")))?;
            Some((name.clone(), key))
        }
        _ => None,
    };
    let secondary = match &args.secondary_key_env {
        Some(var) => {
            let text = secret_from_env(var, "account key")?;
            Some(
                AccountKey::from_base64_lenient(&text)
                    .map_err(|_| CmdError::usage(format!("${var} holds no base64 account key")))?,
            )
        }
        None => None,
    };
    let listeners = listeners(args.port)?;
    let timings = Timings {
        connection_test: Duration::from_secs(args.connection_test_seconds),
        test_blob_lifetime: Duration::from_secs(args.test_blob_seconds),
        training: Duration::from_secs(args.training_seconds),
        export: Duration::from_secs(args.export_seconds),
    };
    let runtime = crate::sim::runtime().map_err(|e| CmdError::io("start", e))?;
    runtime.block_on(async {
        let world = World::new(Clock::Wall, MessageEncoding::from(args.encoding), &key);
        // With connection resets, the reset layers take the ports asked for and the servers
        // free ones behind them: the URLs printed name the ports asked for either way.
        let (servers, fronts) = if faults.resets.is_empty() {
            (listeners, None)
        } else {
            (Listeners::default(), Some(listeners))
        };
        let mut sim = Simulation::start_world(world, servers)
            .await
            .map_err(|e| CmdError::io("start the simulation", e))?;
        sim.set_seed(args.seed);
        sim.set_timings(timings);
        sim.set_auth_checks(!args.no_auth);
        if let Some((name, key)) = &account {
            sim.set_account(name, key.clone());
        }
        if let Some(key) = secondary {
            sim.set_secondary_key(key);
        }
        if let Some(fronts) = fronts {
            sim.reset_connections_on(fronts, faults.resets.clone())
                .await
                .map_err(|e| CmdError::io("start the reset layer", e))?;
        }
        // Made directly in the world: request faults count the client's requests only.
        sim.create_queue(QUEUE);
        sim.create_container(CONTAINER);
        sim.set_faults(faults);
        sim.keep_journal();
        let mut session = match &args.record {
            Some(path) => {
                let recorder = super::prelude::open_recording(path)?;
                let mut header = crate::session::Header::new(
                    cvnotify_core::lifecycle::Sources {
                        queue: false,
                        training_api: false,
                        polling: false,
                        container: false,
                    },
                    crate::recording::Scope::All,
                    crate::clock::wall(),
                );
                header.duties = args.duties.iter().map(|d| (*d).into()).collect();
                header.duties.sort();
                header.duties.dedup();
                Some(
                    crate::session::Session::new(header, recorder)
                        .map_err(|e| CmdError::file("write the recording", path, e))?,
                )
            }
            None => None,
        };
        let mut endpoints = serde_json::Map::new();
        let printed = serde_json::json!({
            "trainingEndpoint": sim.training_endpoint(),
            "trainingKey": shown_key,
            "accountName": account.as_ref().map_or(DEV_ACCOUNT, |(n, _)| n.as_str()),
            "blobEndpoint": sim.blob_endpoint(),
            "queueEndpoint": sim.queue_endpoint(),
            "notificationQueueUri": sim.queue_url(QUEUE),
            "exportModelContainerUri": sim.container_url(CONTAINER),
            "settle": format!("{}/admin/settle", sim.training_endpoint()),
        });
        if let serde_json::Value::Object(fields) = printed {
            endpoints.extend(fields);
        }
        // With the user's own key, nothing signed with it is printed.
        if account.is_none() {
            let sas = sim.account_sas();
            for (name, value) in [
                ("queueUrl", format!("{}?{sas}", sim.queue_url(QUEUE))),
                (
                    "containerUrl",
                    format!("{}?{sas}", sim.container_url(CONTAINER)),
                ),
                ("accountKey", DEV_KEY.to_string()),
                ("connectionString", sim.connection_string()),
            ] {
                endpoints.insert(name.to_string(), value.into());
            }
        }
        println!("{}", serde_json::Value::Object(endpoints));
        let _ = std::io::stdout().flush();
        let mut signals = super::prelude::Signals::new()?;
        loop {
            let stopped = tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => false,
                () = signals.recv() => true,
            };
            sim.run_due(crate::clock::wall().0);
            if let Some(s) = session.as_mut() {
                for line in sim.take_journal() {
                    if let Err(e) = s.journal(line) {
                        return Err(CmdError::io("write the recording", e));
                    }
                }
                // Evidence is on disk as it comes, not only at the end.
                let _ = s.flush();
                // simulate shows no live lines: its standard output is the endpoints' JSON, and
                // the recording holds everything.
                drop(s.take_live());
            }
            if stopped {
                if let Some(s) = session.take() {
                    let written = s
                        .finish(
                            crate::clock::wall(),
                            crate::recording::Outcome::Stopped,
                            None,
                            "simulate",
                            &crate::report::Rules::default(),
                        )
                        .written;
                    written.map_err(|e| CmdError::io("finish the recording", e))?;
                }
                return Ok(exit::OK);
            }
        }
    })
}
