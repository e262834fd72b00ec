//! `cvnotify generate-recording`: a synthetic recording on stdout, for benchmarks and demos.

use std::io;

use super::prelude::{CmdError, exit};
use crate::generate::{Shape, Spec, generate};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// About how many lines to write.
    #[arg(long, default_value_t = 100_000)]
    lines: u64,
    /// Over how many projects.
    #[arg(long, default_value_t = 1_000)]
    projects: u32,
    /// `lifecycles`: every project keeps training and exporting new iterations (the state grows
    /// with the file). `steady`: one lifecycle per project, then polls and ticks only (the state
    /// stays the same however long the file is).
    #[arg(long, value_enum, default_value_t = Shape::Lifecycles)]
    shape: Shape,
}

pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    let spec = Spec {
        lines: args.lines,
        projects: args.projects,
        shape: args.shape,
    };
    generate(spec, io::BufWriter::new(io::stdout().lock())).map_err(CmdError::run)?;
    Ok(exit::OK)
}
