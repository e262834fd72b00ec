//! `cvnotify parse`: one message in, the verdict out (human lines or one JSON object).

use std::io::{self, Read as _, Write as _};
use std::path::PathBuf;

use cvnotify_core::notification::WireMessage;
use cvnotify_core::{
    Deviation, Encoding, FieldPath, Notification, ParseError, ParseOptions, Parsed, Secrets,
};
use serde::Serialize;

use super::prelude::{CmdError, exit};

/// Output formats of `parse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ParseFormat {
    /// Lines for a person.
    Human,
    /// One JSON object on stdout: {"encoding", "message", "deviations"}, or {"error"} when
    /// rejected. Secrets in `modelUri` are redacted.
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// File holding the message text; `-` reads stdin.
    #[arg(default_value = "-")]
    file: PathBuf,
    /// Reject any deviation from the documented format.
    #[arg(long)]
    strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ParseFormat::Human)]
    format: ParseFormat,
    /// Keep a final line ending as part of the message. By default one trailing "\n" or "\r\n"
    /// (as `echo` and editors add) is dropped before parsing.
    #[arg(long)]
    exact: bool,
}

/// Runs the command and returns its exit code.
pub(crate) fn exec(args: &Args) -> Result<u8, CmdError> {
    let (raw, total) = read_input(args).map_err(|e| CmdError::file("read", &args.file, e))?;
    let options = ParseOptions {
        strict: args.strict,
    };
    let outcome = cvnotify_core::parse(&raw, options);
    // Only the start of a long input is read: its size is the whole input's, not the start's.
    let why = |e: &ParseError| match e.kind() {
        cvnotify_core::ParseErrorKind::TooLarge { .. }
            if total > cvnotify_core::MAX_MESSAGE_BYTES as u64 + 3 =>
        {
            format!(
                "{total} bytes; a queue message carries at most {} bytes",
                cvnotify_core::MAX_MESSAGE_BYTES
            )
        }
        _ => e.to_string(),
    };
    let mut out = io::stdout().lock();
    let written = match (&outcome, args.format) {
        (Ok(parsed), ParseFormat::Human) => write_human(&mut out, parsed),
        (Ok(parsed), ParseFormat::Json) => write_json(&mut out, &accepted_json(parsed)),
        (Err(e), ParseFormat::Json) => {
            let mut doc = rejected_json(e);
            doc.error.message = why(e);
            write_json(&mut out, &doc)
        }
        (Err(_), ParseFormat::Human) => Ok(()),
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| CmdError::io("write output", e))?;
    match outcome {
        Ok(_) => Ok(exit::OK),
        Err(e) => {
            eprintln!("rejected: {}", why(&e));
            Ok(exit::REJECTED)
        }
    }
}

/// Reads at most a little more than the largest message, so a huge file is refused by the
/// parser's size check without being loaded whole; the rest is counted, not kept. Returns the
/// start and the whole input's size.
fn read_input(args: &Args) -> io::Result<(Vec<u8>, u64)> {
    let limit = u64::try_from(cvnotify_core::MAX_MESSAGE_BYTES + 3).unwrap_or(u64::MAX);
    let mut raw = Vec::new();
    let mut input: Box<dyn io::Read> = if args.file.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(&args.file)?)
    };
    (&mut input).take(limit).read_to_end(&mut raw)?;
    let rest = io::copy(&mut input, &mut io::sink())?;
    let total = raw.len() as u64 + rest;
    if !args.exact {
        if raw.ends_with(b"\r\n") {
            raw.truncate(raw.len() - 2);
        } else if raw.ends_with(b"\n") {
            raw.truncate(raw.len() - 1);
        }
    }
    Ok((raw, total))
}

/// `--format json` for an accepted message; fields in this order.
#[derive(Serialize)]
struct AcceptedJson<'a> {
    encoding: Encoding,
    message: WireMessage<'a>,
    deviations: &'a [Deviation],
}

/// `--format json` for a rejected message.
#[derive(Serialize)]
struct RejectedJson<'a> {
    error: ErrorJson<'a>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    code: &'a str,
    encoding: Option<Encoding>,
    path: FieldPath,
    offset: Option<usize>,
    message: String,
}

/// One JSON document and a newline.
fn write_json(out: &mut impl io::Write, doc: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, doc)?;
    writeln!(out)
}

fn accepted_json(parsed: &Parsed) -> AcceptedJson<'_> {
    AcceptedJson {
        encoding: parsed.encoding,
        message: parsed.notification.wire(Secrets::Redact),
        deviations: &parsed.deviations,
    }
}

fn rejected_json(e: &ParseError) -> RejectedJson<'_> {
    RejectedJson {
        error: ErrorJson {
            code: e.code(),
            encoding: e.encoding(),
            path: e.kind().path(),
            offset: e.kind().offset(),
            message: e.to_string(),
        },
    }
}

fn write_human(out: &mut impl io::Write, parsed: &Parsed) -> io::Result<()> {
    let n = &parsed.notification;
    writeln!(
        out,
        "accepted: {} ({} encoding, version \"{}\")",
        cvnotify_core::redact::redact(n.type_name()),
        parsed.encoding,
        parsed.version.as_str()
    )?;
    if let Some(project_id) = n.project_id() {
        writeln!(out, "  project    {project_id}")?;
    }
    if let Some(iteration_id) = n.iteration_id() {
        writeln!(out, "  iteration  {iteration_id}")?;
    }
    if let Some(status) = n.status_name() {
        writeln!(out, "  status     {status}")?;
    }
    match n {
        Notification::Export {
            model_uri: Some(uri),
            ..
        } => writeln!(out, "  modelUri   {uri}")?,
        Notification::Export {
            model_uri: None, ..
        } => writeln!(out, "  modelUri   (none)")?,
        Notification::Unrecognized { .. } => writeln!(out, "  (Content not interpreted)")?,
        Notification::ConnectionTest { .. } | Notification::Training { .. } => {}
    }
    if parsed.deviations.is_empty() {
        writeln!(out, "  no deviations")?;
    }
    for d in &parsed.deviations {
        writeln!(out, "  deviation  {d}")?;
    }
    Ok(())
}
