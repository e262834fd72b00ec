//! What more than one command uses, by job: [`error`] (the error every command returns and the
//! exit codes), [`args`] (shared flags), [`output`] (recordings and reports), [`color`] and
//! [`signals`].

mod args;
mod color;
mod error;
mod output;
mod signals;

pub(crate) use args::*;
pub(crate) use color::*;
pub(crate) use error::*;
pub(crate) use output::*;
pub(crate) use signals::*;
