//! Helpers shared by the test modules: where the corpus is, and how a verdict is described.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cvnotify_core::{ParseOptions, Secrets, parse};

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every file of `corpus/messages`, sorted.
pub(crate) fn message_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("corpus/messages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "msg"))
        .collect();
    files.sort();
    files
}

/// The verdict a file name promises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    Accept,
    AcceptWithDeviation,
    Reject,
}

pub(crate) fn expectation(path: &Path) -> Expect {
    let name = path.file_name().unwrap().to_str().unwrap();
    match &name[..2] {
        "y_" => Expect::Accept,
        "i_" => Expect::AcceptWithDeviation,
        "n_" => Expect::Reject,
        other => panic!("corpus file {name} has no verdict prefix ({other})"),
    }
}

/// The text snapshotted for one message: the tolerant verdict in full, and the strict one.
pub(crate) fn describe(raw: &[u8]) -> String {
    let mut s = String::new();
    for (label, options) in [
        ("tolerant", ParseOptions::TOLERANT),
        ("strict", ParseOptions::STRICT),
    ] {
        match parse(raw, options) {
            Ok(p) => {
                writeln!(s, "{label}: accepted").unwrap();
                if label == "strict" {
                    continue;
                }
                writeln!(s, "  encoding: {}", p.encoding).unwrap();
                writeln!(s, "  version: {:?}", p.version.as_str()).unwrap();
                let wire = serde_json::to_string(&p.notification.wire(Secrets::Redact)).unwrap();
                writeln!(s, "  message: {wire}").unwrap();
                for d in &p.deviations {
                    writeln!(s, "  deviation: {d}").unwrap();
                }
            }
            Err(e) => {
                writeln!(s, "{label}: rejected").unwrap();
                writeln!(s, "  code: {}", e.code()).unwrap();
                writeln!(s, "  path: {}", e.kind().path()).unwrap();
                match e.kind().offset() {
                    Some(o) => writeln!(s, "  offset: {o}").unwrap(),
                    None => writeln!(s, "  offset: none").unwrap(),
                }
                match e.encoding() {
                    Some(enc) => writeln!(s, "  encoding: {enc}").unwrap(),
                    None => writeln!(s, "  encoding: undecided").unwrap(),
                }
                writeln!(s, "  error: {e}").unwrap();
            }
        }
    }
    s
}

/// `cvnotify simulate` running in the background (stopped on drop), with the endpoints it printed.
pub(crate) struct Simulate {
    child: std::process::Child,
    pub(crate) endpoints: serde_json::Value,
}

impl Simulate {
    /// `cvnotify simulate ARGS`, with short service delays unless ARGS set them (a training
    /// takes a second, an export none).
    pub(crate) fn start(args: &[&str]) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cvnotify"));
        command.arg("simulate").args(Self::with_delays(args));
        Self::spawn(command)
    }

    /// [`Simulate::start`] allowed at most `descriptors` open files (`ulimit -n`).
    pub(crate) fn start_limited(descriptors: u32, args: &[&str]) -> Self {
        let mut command = std::process::Command::new("bash");
        command
            .arg("-c")
            .arg(format!(
                "ulimit -n {descriptors} && exec \"$0\" simulate \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_cvnotify"))
            .args(Self::with_delays(args));
        Self::spawn(command)
    }

    fn with_delays<'a>(args: &[&'a str]) -> Vec<&'a str> {
        let mut all: Vec<&str> = Vec::new();
        for (flag, value) in [("--training-seconds", "1"), ("--export-seconds", "0")] {
            if !args.contains(&flag) {
                all.extend([flag, value]);
            }
        }
        all.extend(args);
        all
    }

    fn spawn(mut command: std::process::Command) -> Self {
        use std::io::BufRead as _;
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let endpoints = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("simulate printed {first:?}: {e}"));
        Self { child, endpoints }
    }

    /// The simulation's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn get(&self, key: &str) -> &str {
        self.endpoints[key].as_str().unwrap()
    }
}

/// A first port of three free loopback ports in a row (for `simulate --port`).
pub(crate) fn free_ports() -> u16 {
    for _ in 0..100 {
        let base = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base < 65_530
            && (1..3).all(|k| std::net::TcpListener::bind(("127.0.0.1", base + k)).is_ok())
        {
            return base;
        }
    }
    panic!("no three free ports in a row");
}

impl Drop for Simulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cvnotify` with `args` (and `env`), waits, returns its output.
pub(crate) fn cvnotify_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A fresh temporary directory for one test, removed with what it holds when the test is done
/// with it (a test leaves nothing behind).
pub(crate) fn temp_dir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("cvnotify-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// A directory removed when dropped.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
