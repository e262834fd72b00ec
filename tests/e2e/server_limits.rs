//! The standalone server on the wire (issue 25's server items): an unauthorized upload is
//! answered on its head, before its body is sent; a body over the service's limit is refused
//! unread; a full descriptor table makes the accept loop wait, not spin, and serving resumes by
//! itself once connections close; an error's reason phrase is its message.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::Simulate;

fn host_of(endpoint: &str) -> String {
    endpoint
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

/// Sends `head` and `body_part` (not the whole body the head declares), then reads the status
/// line, waiting at most `limit`.
fn status_before_body(host: &str, head: &str, body_part: &[u8], limit: Duration) -> String {
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body_part).unwrap();
    let mut answer = [0u8; 256];
    let n = stream.read(&mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn an_unauthorized_upload_is_refused_before_its_body_and_a_body_over_the_limit_unread() {
    let sim = Simulate::start(&[]);
    let blob = host_of(sim.get("blobEndpoint"));
    // 256 MiB declared, 1 KiB sent, no credentials: 403 at once (a server that read the body
    // first would still be waiting for it).
    let started = Instant::now();
    let status = status_before_body(
        &blob,
        &format!(
            "PUT /devstoreaccount1/backups/big HTTP/1.1\r\nHost: {blob}\r\nx-ms-blob-type: BlockBlob\r\nx-ms-version: 2021-08-06\r\nContent-Length: {}\r\n\r\n",
            256u64 << 20
        ),
        &[0u8; 1024],
        Duration::from_secs(5),
    );
    assert!(status.starts_with("HTTP/1.1 403"), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // A queue request declaring more than a message can be: 413, unread, even authorized.
    let queue = host_of(sim.get("queueEndpoint"));
    let sas = sim.get("queueUrl").split_once('?').unwrap().1.to_string();
    let status = status_before_body(
        &queue,
        &format!(
            "POST /devstoreaccount1/notifications/messages?{sas} HTTP/1.1\r\nHost: {queue}\r\nx-ms-version: 2021-08-06\r\nContent-Length: {}\r\n\r\n",
            64u64 << 20
        ),
        &[b'x'; 1024],
        Duration::from_secs(5),
    );
    assert!(status.starts_with("HTTP/1.1 413"), "{status:?}");
}

/// The simulation's CPU time so far, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the state.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_full_descriptor_table_makes_the_server_wait_not_spin_and_it_recovers() {
    let sim = Simulate::start_limited(64, &[]);
    let endpoints = &sim.endpoints;
    let queue = host_of(endpoints["queueEndpoint"].as_str().unwrap());
    // More idle connections than the process has descriptors.
    let held: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(&queue).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_ticks(sim.pid());
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(sim.pid()) - before;
    // Clock ticks are 1/100 s: under 5 % of one core over 2 s is under 10 ticks.
    assert!(spent < 10, "the accept loop spun: {spent} ticks in 2 s");
    drop(held);
    let url = format!(
        "http://{queue}/devstoreaccount1?comp=list&{}",
        endpoints["queueUrl"]
            .as_str()
            .unwrap()
            .split_once('?')
            .unwrap()
            .1
    );
    let started = Instant::now();
    let answered = loop {
        let status = status_before_body(
            &queue,
            &format!(
                "GET {} HTTP/1.1\r\nHost: {queue}\r\nx-ms-version: 2021-08-06\r\nConnection: close\r\n\r\n",
                url.trim_start_matches(&format!("http://{queue}"))
            ),
            b"",
            Duration::from_secs(2),
        );
        if status.starts_with("HTTP/1.1 200") || started.elapsed() > Duration::from_secs(5) {
            break status;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "served again after {:?}",
        started.elapsed()
    );
}

/// A HEAD answer has no body: its reason phrase is the only place a client finds the error's
/// words, and Azure and Azurite put the error's message there (Azurite 3.35:
/// `HTTP/1.1 404 The specified blob does not exist.`).
#[test]
fn a_head_of_a_missing_blob_names_the_error_in_its_reason_phrase() {
    let sim = Simulate::start(&[]);
    let blob = host_of(sim.get("blobEndpoint"));
    let sas = sim
        .get("containerUrl")
        .split_once('?')
        .unwrap()
        .1
        .to_string();
    let status = status_before_body(
        &blob,
        &format!(
            "HEAD /devstoreaccount1/backups/missing?{sas} HTTP/1.1\r\nHost: {blob}\r\nx-ms-version: 2021-08-06\r\n\r\n"
        ),
        b"",
        Duration::from_secs(5),
    );
    assert_eq!(status, "HTTP/1.1 404 The specified blob does not exist.");
}
