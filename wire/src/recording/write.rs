//! Writing a recording: [`Writer`] writes one line at a time with every secret redacted first
//! ([`cvnotify_core::redact`], inside base64 message texts too).

use std::io::{self, Write};

use cvnotify_core::redact;

use super::schema::Line;

/// `line` as a recording holds it: every secret in it redacted (a message that had one says so
/// in `redacted`). Redacting a redacted line changes nothing.
pub fn redacted(mut line: Line) -> Line {
    let mut changed = false;
    for value in line.strings_mut() {
        let (redacted, this) = redact::redact_deep(value);
        if this {
            *value = redacted.into_owned();
            changed = true;
        }
    }
    if let Line::Message(m) = &mut line {
        m.redacted |= changed;
    }
    line
}

/// Writes a recording: each line with its secrets redacted.
pub struct Writer<W: Write> {
    out: W,
}

impl<W: Write> Writer<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }

    /// Writes one line, redacting every secret first ([`redacted`]).
    pub fn write(&mut self, line: &Line) -> io::Result<()> {
        self.write_owned(line.clone()).map(drop)
    }

    /// [`Writer::write`] of a line the caller gives up, which comes back as written (redacted):
    /// what a live session judges.
    pub fn write_owned(&mut self, line: Line) -> io::Result<Line> {
        let line = redacted(line);
        serde_json::to_writer(&mut self.out, &line)?;
        self.out.write_all(b"\n")?;
        Ok(line)
    }

    /// Flushes what was written so far.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
