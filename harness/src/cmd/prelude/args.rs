//! Flag values and flag groups more than one command takes: the training options' form, the
//! message encoding, the duties, the judging rules, ranged seconds, secrets and storage
//! credentials from the environment.

use super::error::CmdError;
use crate::endpoint::shared_key;
use crate::recording::Duty;
use crate::storage::{AccountKey, Credentials};

use crate::report::{Expectations, Rules, Waivers, known_codes};

/// Where CreateProject puts the storage URIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FormArg {
    /// Query parameters on v3.3 (the seed's example).
    Query,
    /// A CreateProjectOptions JSON body on v3.4-preview (the SDKs).
    Body,
}

impl From<FormArg> for crate::training::OptionsForm {
    fn from(f: FormArg) -> Self {
        match f {
            FormArg::Query => Self::Query,
            FormArg::Body => Self::Body,
        }
    }
}

/// How the simulated service encodes its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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

/// How sessions are judged: waivers and expectations (`replay`, `watch`, `check`).
#[derive(Debug, clap::Args)]
pub(crate) struct JudgeArgs {
    /// Only these check codes count (comma-separated or repeated); the rest are waived.
    #[arg(long, value_delimiter = ',')]
    pub(crate) select: Vec<String>,
    /// Waive these check codes (comma-separated or repeated): reported, but not counted.
    /// `--exclude nothing-judged` lets a run that saw nothing pass.
    #[arg(long, value_delimiter = ',')]
    pub(crate) exclude: Vec<String>,
    /// Fail unless at least this many projects were judged.
    #[arg(long, value_name = "N")]
    pub(crate) expect_projects: Option<u64>,
    /// Fail unless at least this many messages were accepted.
    #[arg(long, value_name = "N")]
    pub(crate) expect_messages: Option<u64>,
}

impl JudgeArgs {
    /// The rules, with every waived code checked against the catalogue.
    pub(crate) fn rules(&self) -> Result<Rules, CmdError> {
        let known = known_codes();
        for code in self.select.iter().chain(&self.exclude) {
            if !known.contains(&code.as_str()) {
                return Err(CmdError::usage(format!(
                    "unknown check code {code:?}; known codes: {}",
                    known.join(", ")
                )));
            }
        }
        Ok(Rules {
            waivers: Waivers {
                select: self.select.clone(),
                exclude: self.exclude.clone(),
            },
            expect: Expectations {
                projects: self.expect_projects,
                messages: self.expect_messages,
            },
        })
    }
}

/// A secret from the environment variable `var` (trimmed; empty counts as unset).
pub(crate) fn secret_from_env(var: &str, what: &str) -> Result<String, CmdError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(CmdError::usage(format!(
            "environment variable {var} holds no {what}"
        ))),
    }
}

/// A number of seconds from `lo` to `hi`, for clap (`inf`, `NaN` and anything out of range are
/// refused with the range).
pub(crate) fn seconds_between(lo: f64, hi: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |text: &str| {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a number of seconds"))?;
        if value.is_finite() && (lo..=hi).contains(&value) {
            Ok(value)
        } else {
            Err(format!("{text} is outside {lo}..={hi} seconds"))
        }
    }
}

/// A duty, as the flag names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DutyArg {
    /// The client downloads the backup blob each ExportCompleted announces.
    FetchBackups,
    /// The client creates, configures, trains and exports the projects itself.
    Configure,
}

impl From<DutyArg> for Duty {
    fn from(d: DutyArg) -> Self {
        match d {
            DutyArg::FetchBackups => Self::FetchBackups,
            DutyArg::Configure => Self::Configure,
        }
    }
}

/// Storage credentials for `url`: Shared Key from `key_env` when given, else whatever the URL
/// carries (a SAS in its query).
pub(crate) fn credentials(
    url: &str,
    key_env: Option<&str>,
) -> Result<Option<Credentials>, CmdError> {
    let Some(var) = key_env else { return Ok(None) };
    let key = secret_from_env(var, "account key")?;
    let key = AccountKey::from_base64(&key)
        .map_err(|_| CmdError::usage(format!("{var} is not a base64 account key")))?;
    shared_key(url, key).map(Some).map_err(CmdError::usage)
}
