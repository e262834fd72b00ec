//! A client's process tree, started and stopped whole: the process `verify` starts is the
//! leader of a process group of its own and carries a marker in its environment
//! ([`MARKER`]), which every descendant inherits unless it clears its environment. The tree is
//! every live process in the leader's group or with the marker, so a child that starts a group
//! of its own, or double-forks away from its parent, is still found; on Linux `verify` is also
//! a child subreaper ([`become_subreaper`]), so such orphans become its children and their
//! exits are reaped. Stopping signals the whole tree (SIGTERM, then SIGKILL after a grace
//! period), every wait has a limit, and dropping a [`ClientProcess`] kills what is left of its
//! tree: nothing `verify` started outlives it.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt as _;

/// The environment variable that marks a client's tree; its value is the tree's own token.
pub const MARKER: &str = "CVNOTIFY_CLIENT_TREE";

/// How much of the client's stderr is kept: its last bytes.
const STDERR_KEPT: usize = 8192;

/// How long a killed tree may take to be gone, and the stderr reader to finish, at most.
const SETTLE: Duration = Duration::from_secs(2);

/// Makes this process a child subreaper (Linux): orphaned descendants of the clients it starts
/// become its children instead of init's, so they can be found and their exits reaped. Elsewhere
/// (or when the kernel refuses) the tree is still found by its group and marker.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
}

/// A client process and its tree.
#[derive(Debug)]
pub struct ClientProcess {
    child: tokio::process::Child,
    leader: i32,
    token: String,
    stderr: Arc<Mutex<Vec<u8>>>,
    reader: Option<tokio::task::JoinHandle<()>>,
    /// The leader's exit, once seen.
    status: Option<ExitStatus>,
}

impl ClientProcess {
    /// Starts `command` (program and arguments) with `env` added to the environment, its
    /// stdin and stdout closed and stderr kept, as the leader of a new process group marked
    /// with `token`.
    pub fn spawn(command: &[String], env: &[(String, String)], token: &str) -> io::Result<Self> {
        let Some((program, args)) = command.split_first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no command"));
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(MARKER, token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let leader = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| io::Error::other("the started process has no id"))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stderr.take().map(|mut pipe| {
            let kept = Arc::clone(&stderr);
            tokio::spawn(async move {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut kept) = kept.lock() {
                        kept.extend_from_slice(chunk.get(..n).unwrap_or_default());
                        if kept.len() > 2 * STDERR_KEPT {
                            let cut = kept.len() - STDERR_KEPT;
                            kept.drain(..cut);
                        }
                    }
                }
            })
        });
        Ok(Self {
            child,
            leader,
            token: token.to_string(),
            stderr,
            reader,
            status: None,
        })
    }

    /// The leader's exit status, if it has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// The live processes of the tree other than the leader.
    pub fn descendants(&self) -> Vec<i32> {
        members(self.leader, &self.token)
            .into_iter()
            .filter(|&p| p != self.leader)
            .collect()
    }

    /// Stops the whole tree: SIGTERM to every member, up to `grace` for them to go, then
    /// SIGKILL to what is left; returns within `grace` plus a few seconds whatever the tree
    /// does. The leader's status, when it ended (`None`: it could not be reaped in time).
    pub async fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.signal_tree(Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            let _ = self.try_wait();
            if self.status.is_some() && self.descendants().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill_tree().await;
        self.status
    }

    /// SIGKILL to every member, then up to `SETTLE` for them to be gone (and reaped).
    async fn kill_tree(&mut self) {
        let deadline = Instant::now() + SETTLE;
        loop {
            self.signal_tree(Signal::SIGKILL);
            let _ = self.try_wait();
            reap(self.leader, &self.token);
            if (self.status.is_some() && self.descendants().is_empty())
                || Instant::now() >= deadline
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal_tree(&self, signal: Signal) {
        if self.status.is_none() {
            let _ = killpg(Pid::from_raw(self.leader), signal);
        }
        for pid in self.descendants() {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }

    /// The end of what the client wrote to stderr (at most `limit` bytes, cut at a character
    /// boundary), waiting at most `SETTLE` for the pipe to close.
    pub async fn stderr_tail(&mut self, limit: usize) -> String {
        if let Some(reader) = self.reader.take() {
            let abort = reader.abort_handle();
            if tokio::time::timeout(SETTLE, reader).await.is_err() {
                abort.abort();
            }
        }
        let kept = self.stderr.lock().map(|k| k.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&kept).into_owned();
        let start = text.len().saturating_sub(limit);
        let start = (start..text.len())
            .find(|&k| text.is_char_boundary(k))
            .unwrap_or(text.len());
        text.get(start..).unwrap_or_default().to_string()
    }
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        // Whatever happened (a signal to verify, an error), nothing of the tree survives.
        let _ = killpg(Pid::from_raw(self.leader), Signal::SIGKILL);
        for pid in self.descendants() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }
}

/// Reaps the exited orphans of `leader`'s tree that became this process's children (as a
/// subreaper), never the leader itself (tokio reaps it).
fn reap(leader: i32, token: &str) {
    let me = std::process::id();
    let needle: Vec<u8> = [MARKER.as_bytes(), b"=", token.as_bytes()].concat();
    for pid in all_pids() {
        if pid == leader {
            continue;
        }
        if let Some(stat) = Stat::of(pid)
            && stat.state == b'Z'
            && u32::try_from(stat.ppid).ok() == Some(me)
            && (stat.pgid == leader || marked(pid, &needle))
        {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// The live (not zombie) processes in `leader`'s group or carrying `token` in their
/// environment, this process excluded.
fn members(leader: i32, token: &str) -> Vec<i32> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let needle: Vec<u8> = [MARKER.as_bytes(), b"=", token.as_bytes()].concat();
    let mut out = BTreeSet::new();
    for pid in all_pids() {
        if pid == me {
            continue;
        }
        let Some(stat) = Stat::of(pid) else { continue };
        if stat.state == b'Z' || stat.state == b'X' {
            continue;
        }
        if (leader > 0 && stat.pgid == leader) || marked(pid, &needle) {
            out.insert(pid);
        }
    }
    out.into_iter().collect()
}

fn marked(pid: i32, needle: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|entry| entry == needle))
        .unwrap_or(false)
}

fn all_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| parse_i32(e.file_name().as_os_str()))
        .collect()
}

fn parse_i32(name: &OsStr) -> Option<i32> {
    std::str::from_utf8(name.as_bytes()).ok()?.parse().ok()
}

/// The fields of `/proc/PID/stat` the tree needs.
struct Stat {
    state: u8,
    ppid: i32,
    pgid: i32,
}

impl Stat {
    fn of(pid: i32) -> Option<Self> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may hold spaces and parentheses: the fields
        // start after the last ')'.
        let rest = text.get(text.rfind(')')? + 1..)?;
        let mut fields = rest.split_ascii_whitespace();
        let state = *fields.next()?.as_bytes().first()?;
        let ppid = fields.next()?.parse().ok()?;
        let pgid = fields.next()?.parse().ok()?;
        Some(Self { state, ppid, pgid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, token: &str) -> ClientProcess {
        ClientProcess::spawn(&["sh".into(), "-c".into(), script.into()], &[], token).unwrap()
    }

    fn alive(pid: i32) -> bool {
        Stat::of(pid).is_some_and(|s| s.state != b'Z')
    }

    #[tokio::test]
    async fn a_tree_whose_leader_exits_is_found_and_stopped_whole() {
        become_subreaper();
        // A grandchild in the group, and one that left the group (setsid): both are found.
        let mut c = sh(
            "sleep 300 & setsid sleep 301 & echo started >&2; exit 0",
            "test-tree-1",
        );
        let started = Instant::now();
        while c.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // setsid may take a moment to exec.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let left = c.descendants();
        assert_eq!(left.len(), 2, "{left:?}");
        let t = Instant::now();
        c.stop(Duration::from_secs(1)).await;
        assert!(t.elapsed() < Duration::from_secs(4));
        for pid in left {
            assert!(!alive(pid), "{pid} survived");
        }
        assert_eq!(c.stderr_tail(100).await.trim(), "started");
    }

    #[tokio::test]
    async fn a_tree_that_ignores_sigterm_is_killed_after_the_grace() {
        let mut c = sh("trap '' TERM; sleep 300 & wait", "test-tree-2");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = Instant::now();
        let status = c.stop(Duration::from_millis(300)).await;
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert!(status.is_some());
        assert!(c.descendants().is_empty());
    }

    #[tokio::test]
    async fn dropping_a_client_kills_its_tree() {
        let c = sh("sleep 300 & sleep 300", "test-tree-3");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let leader = c.leader;
        let tree = members(leader, "test-tree-3");
        assert!(tree.len() >= 2, "{tree:?}");
        drop(c);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(members(leader, "test-tree-3").is_empty());
    }
}
