//! `cvnotify simulate`: the simulation as a standalone loopback server for clients in any
//! language (the official Python SDKs, for one). Virtual time follows the wall clock, sped up
//! by `--speed`; `POST /admin/settle` runs everything pending at once (the barrier).

use std::io::Write as _;
use std::time::{Duration, Instant};

use super::prelude::{CmdError, EncodingArg, exit, secret_from_env};
use crate::sim::{Faults, MessageEncoding, Simulation};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The loopback port (a free one when absent).
    #[arg(long)]
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
    /// Virtual seconds per wall-clock second (training takes a virtual minute).
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// Accept the Training-Key in this environment variable instead of a generated one (then
    /// the key is not printed).
    #[arg(long)]
    training_key_env: Option<String>,
}

/// The account SAS Azurite's documentation uses (valid until 2099); the simulation does not
/// check it, but clients that insist on one get a well-formed token.
const SAS: &str = "sv=2021-08-06&ss=bq&srt=sco&sp=rwdlacup&se=2099-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig=1tmwxodjvXAEaYjPSDfgKvuIi8qNP7dj%2FNoQuCE3hXg%3D";

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    let faults = match args.faults.as_deref().map(Faults::parse).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => return Err(CmdError::usage(e)),
    };
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(CmdError::usage("--speed must be a positive number"));
    }
    let listener = match args.port {
        Some(port) => Some(
            std::net::TcpListener::bind(("127.0.0.1", port))
                .map_err(|e| CmdError::run(format!("cannot listen on 127.0.0.1:{port}: {e}")))?,
        ),
        None => None,
    };
    let encoding = MessageEncoding::from(args.encoding);
    let (key, shown) = match &args.training_key_env {
        Some(var) => (secret_from_env(var, "key")?, format!("from ${var}")),
        None => {
            let k = format!("simulated-training-key-{:08x}", args.seed);
            (k.clone(), k)
        }
    };
    let runtime = crate::sim::runtime().map_err(|e| CmdError::run(format!("cannot start: {e}")))?;
    runtime.block_on(async {
        let start = crate::clock::wall().0 / 1000 * 1000;
        // With connection resets, the reset layer takes --port and the server a port of its
        // own behind it: the URLs printed name --port either way.
        let (server_listener, front_listener) = if faults.resets.is_empty() {
            (listener, None)
        } else {
            (None, listener)
        };
        let mut sim = Simulation::start_on(server_listener, start, encoding, &key).await;
        sim.set_seed(args.seed);
        if !faults.resets.is_empty() {
            sim.reset_connections_on(front_listener, faults.resets.clone())
                .await
                .map_err(|e| CmdError::run(format!("cannot start the reset layer: {e}")))?;
        }
        // Made directly in the world: request faults count the client's requests only.
        sim.create_queue("notifications");
        sim.create_container("backups");
        sim.set_faults(faults);
        let endpoints = serde_json::json!({
            "trainingEndpoint": sim.training_endpoint(),
            "trainingKey": shown,
            "queueUrl": format!("{}?{SAS}", sim.storage_url("notifications")),
            "containerUrl": format!("{}?{SAS}", sim.storage_url("backups")),
            "connectionString": format!(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;QueueEndpoint={0}/devstoreaccount1;BlobEndpoint={0}/devstoreaccount1;",
                sim.uri()
            ),
            "settle": format!("{}/admin/settle", sim.uri()),
        });
        println!("{endpoints}");
        let _ = std::io::stdout().flush();
        let began = Instant::now();
        let mut stop = Box::pin(tokio::signal::ctrl_c());
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = &mut stop => return Ok(exit::OK),
            }
            let virtual_elapsed = began.elapsed().as_secs_f64() * args.speed * 1000.0;
            sim.run_due(start + virtual_elapsed as u64);
        }
    })
}
