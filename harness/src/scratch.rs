//! Scratch files: anonymous temporary files for what does not fit in memory (the lines of the
//! projects a replay spills, the message tally's sorted runs). Each is unlinked when made, so
//! nothing is left behind, whatever ends the run.

use std::fs::File;
use std::io;
use std::path::Path;

/// A new anonymous file in `dir` (the system's temporary directory, `TMPDIR`, when `None`);
/// `purpose` completes the error's sentence ("cannot make a file {purpose} in DIR").
pub fn file(dir: Option<&Path>, purpose: &str) -> io::Result<File> {
    let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
    tempfile::tempfile_in(&dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot make a file {purpose} in {}: {e}", dir.display()),
        )
    })
}
