//! Reports as their readers take them: JUnit validated against the schema Jenkins uses (and
//! skipped cases for what was not judged), HTML as a page a browser shows, DOT as graphviz
//! renders it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{cvnotify_env, repo_root, temp_dir};

fn cvnotify(args: &[&str]) -> std::process::Output {
    cvnotify_env(args, &[])
}

fn sessions() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("corpus/sessions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

fn session(name: &str) -> String {
    repo_root()
        .join("corpus/sessions")
        .join(name)
        .display()
        .to_string()
}

/// A tool the test needs from the machine (`.ci/run` installs it).
fn tool(name: &str, package: &str) -> String {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} is needed (apt-get install {package}; .ci/run installs it)"
    );
    name.to_string()
}

/// Validates `file` against tests/e2e/junit.xsd with xmllint.
fn assert_valid_junit(file: &Path) {
    let schema = repo_root().join("tests/e2e/junit.xsd");
    let out = Command::new(tool("xmllint", "libxml2-utils"))
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not validate:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_junit(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, String) {
    let path = dir.join(name);
    let mut all = args.to_vec();
    all.extend(["--format", "junit", "-o", path.to_str().unwrap()]);
    let out = cvnotify(&all);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn every_junit_report_validates_against_the_jenkins_schema() {
    let dir = temp_dir("junit-xsd");
    let files: Vec<String> = sessions().iter().map(|p| p.display().to_string()).collect();
    // Every recording of the corpus in one report, each alone, a merge, and live runs.
    let mut all = vec!["replay"];
    all.extend(files.iter().map(String::as_str));
    let mut reports = vec![write_junit(&dir, "all.xml", &all)];
    for (k, f) in files.iter().enumerate() {
        reports.push(write_junit(&dir, &format!("{k}.xml"), &["replay", f]));
    }
    reports.push(write_junit(
        &dir,
        "merge.xml",
        &[
            "replay",
            "--merge",
            &session("y_happy_path.jsonl"),
            &session("y_duplicates.jsonl"),
        ],
    ));
    reports.push(write_junit(&dir, "check.xml", &["check"]));
    reports.push(write_junit(
        &dir,
        "check-fail.xml",
        &["check", "--faults", "no-backup-blob,duplicate-delivery"],
    ));
    reports.push(write_junit(
        &dir,
        "strict.xml",
        &[
            "replay",
            "--strict",
            &session("i_message_with_deviation.jsonl"),
        ],
    ));
    for (path, _) in &reports {
        assert_valid_junit(path);
    }
    // The schema is not a formality: a report without a suite's required attribute fails it.
    let broken = dir.join("broken.xml");
    std::fs::write(
        &broken,
        reports[0].1.replacen(" failures=\"", " failed=\"", 2),
    )
    .unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(repo_root().join("tests/e2e/junit.xsd"))
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a broken report validated");
}

/// Count of `needle` in `text`.
fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn junit_names_its_command_times_its_suites_and_skips_what_was_not_judged() {
    let dir = temp_dir("junit-skips");
    // A queue-only recording: the checks that need the training API or the container were
    // never evaluated, so they are skipped with the reason, not passed.
    let (_, xml) = write_junit(&dir, "q.xml", &["replay", &session("y_queue_only.jsonl")]);
    assert!(
        xml.contains("<testsuites name=\"cvnotify replay\""),
        "{xml}"
    );
    assert!(xml.contains("timestamp=\"2026-01-01T09:00:05Z\""), "{xml}");
    assert!(xml.contains(" time=\""), "{xml}");
    let unevaluated = count(&xml, "<skipped message=\"not evaluated: needs ");
    assert!(unevaluated >= 10, "{unevaluated} skipped:\n{xml}");
    assert!(xml.contains("needs the backup container, which this session did not observe"));
    // training-status-conflict needs only the queue: judged, and passed.
    let conflict = xml
        .split("<testcase ")
        .find(|c| c.contains("name=\"training-status-conflict\""))
        .unwrap();
    assert!(!conflict.contains("<skipped"), "{conflict}");

    // A waived check is skipped as waived, even when nothing showed it.
    let (_, xml) = write_junit(
        &dir,
        "waived.xml",
        &[
            "replay",
            "--exclude",
            "duplicate-delivery",
            &session("y_happy_path.jsonl"),
        ],
    );
    let dup = xml
        .split("<testcase ")
        .find(|c| c.contains("name=\"duplicate-delivery\""))
        .unwrap();
    assert!(dup.contains("waived with --select/--exclude"), "{dup}");

    // A failure's details are in the element's body (GitLab shows the body), with the
    // concrete blob name rather than the catalogue's template.
    let (_, xml) = write_junit(
        &dir,
        "missing.xml",
        &["replay", &session("n_backup_blob_missing.jsonl")],
    );
    let failure = xml.split("<failure ").nth(1).unwrap();
    let body = failure
        .split_once('>')
        .unwrap()
        .1
        .split("</failure>")
        .next()
        .unwrap();
    assert!(
        body.contains("no backup blob `0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b - 1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b.ONNX`"),
        "{body}"
    );
    assert!(
        body.contains("(line 8)") && body.contains("rests on seed"),
        "{body}"
    );
    assert!(!xml.contains("{projectId}"), "{xml}");

    // A live run is named after its command; without a recording, evidence is the input itself.
    let (_, xml) = write_junit(&dir, "check.xml", &["check", "--faults", "no-backup-blob"]);
    assert!(xml.contains("<testsuites name=\"cvnotify check\""), "{xml}");
    let failure = xml.split("<failure ").nth(1).unwrap();
    assert!(
        failure.contains("(message 00000000-0003-4000-8000-") && !failure.contains("(line "),
        "{failure}"
    );
}

/// Every `<text x=".." y="..">label` of the page's timelines, per SVG.
fn timeline_texts(page: &str) -> Vec<Vec<(f64, f64, String)>> {
    page.split("<svg class=\"timeline\"")
        .skip(1)
        .map(|svg| {
            let svg = svg.split("</svg>").next().unwrap();
            svg.split("<text ")
                .skip(1)
                .map(|t| {
                    let attr = |name: &str| -> f64 {
                        t.split(&format!("{name}=\""))
                            .nth(1)
                            .unwrap()
                            .split('"')
                            .next()
                            .unwrap()
                            .parse()
                            .unwrap()
                    };
                    // The label is the text after the tooltip.
                    let body = t
                        .split("</title>")
                        .nth(1)
                        .unwrap_or(t.split_once('>').unwrap().1);
                    let label = body.split("</text>").next().unwrap().to_string();
                    (attr("x"), attr("y"), label)
                })
                .collect()
        })
        .collect()
}

#[test]
fn html_opens_with_a_summary_and_an_index_failing_first_and_no_label_overlaps() {
    let dir = temp_dir("html");
    let page = dir.join("corpus.html");
    let mut args = vec!["replay", "--format", "html", "-o", page.to_str().unwrap()];
    let files: Vec<String> = sessions().iter().map(|p| p.display().to_string()).collect();
    args.extend(files.iter().map(String::as_str));
    assert_eq!(cvnotify(&args).status.code(), Some(1));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<title>cvnotify replay: FAIL</title>"),
        "title"
    );
    // The summary comes before everything else: the verdict and the counts by severity.
    let summary = html.split("<nav>").next().unwrap();
    for needle in [
        "FAIL",
        " errors</span>",
        " warnings</span>",
        " deviation</span>",
    ] {
        assert!(summary.contains(needle), "summary lacks {needle}");
    }
    // The index lists the failing recordings before the passing ones.
    let index = html
        .split("<nav>")
        .nth(1)
        .unwrap()
        .split("</nav>")
        .next()
        .unwrap();
    let first_pass = index.find("y_happy_path.jsonl").unwrap();
    for failing in [
        "n_backup_blob_missing.jsonl",
        "n_nothing_judged.jsonl",
        "i_connection_test_late.jsonl",
    ] {
        assert!(
            index.find(failing).unwrap() < first_pass,
            "{failing} after a passing one"
        );
    }
    // Failing projects are open, passing ones collapsed.
    assert!(html.contains("class=\"project\" open><summary>project <code>0f5a1c2e"));
    assert!(html.contains("class=\"project\"><summary>"));
    assert!(
        !html.contains("{projectId}"),
        "the template instead of the blob name"
    );
    assert!(
        !html.contains("<script") && !html.contains("http://") && !html.contains("src="),
        "not self-contained"
    );
    // No two labels of a timeline overlap: on each row, a label ends before the next begins.
    let check = dir.join("check.html");
    let out = cvnotify(&[
        "check",
        "--faults",
        "no-backup-blob,duplicate-delivery,training-contradicts-polling",
        "--format",
        "html",
        "-o",
        check.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let check = std::fs::read_to_string(&check).unwrap();
    assert!(check.contains("<title>cvnotify check: FAIL</title>"));
    let mut timelines = timeline_texts(&html);
    timelines.extend(timeline_texts(&check));
    assert!(timelines.len() > 20);
    for texts in &timelines {
        let mut rows: std::collections::BTreeMap<i64, Vec<(f64, &str)>> = Default::default();
        for (x, y, label) in texts {
            rows.entry(*y as i64).or_default().push((*x, label));
        }
        for (y, mut row) in rows {
            row.sort_by(|a, b| a.0.total_cmp(&b.0));
            for pair in row.windows(2) {
                // 6.2 units per character at the timeline's font size (an upper bound for
                // the sans-serif font at 11px).
                let end = pair[0].0 + pair[0].1.chars().count() as f64 * 6.2;
                assert!(
                    end <= pair[1].0,
                    "row {y}: {:?} runs into {:?}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }
}

#[test]
fn html_of_a_thousand_projects_stays_small_and_navigable() {
    let dir = temp_dir("html-big");
    let recording = dir.join("big.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args([
            "generate-recording",
            "--lines",
            "60000",
            "--projects",
            "1000",
        ])
        .output()
        .unwrap();
    std::fs::write(&recording, &out.stdout).unwrap();
    let page = dir.join("big.html");
    let out = cvnotify(&[
        "replay",
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
        recording.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
    assert!(html.contains("<summary>1000 passing projects</summary>"));
    assert!(html.contains("900 more projects are not drawn"));
    assert_eq!(html.matches("<svg class=\"timeline\"").count(), 100);
}

/// JSON Lines: the same projects, checks and verdicts as the JSON report, one line each, for
/// every recording alone and for a merge.
#[test]
fn jsonl_has_a_line_per_project_and_recording_and_the_json_reports_verdicts() {
    let files: Vec<String> = sessions().iter().map(|p| p.display().to_string()).collect();
    let merge = [session("y_happy_path.jsonl"), session("y_duplicates.jsonl")];
    let mut runs: Vec<Vec<&str>> = vec![vec!["replay"], vec!["replay", "--merge"]];
    runs[0].extend(files.iter().map(String::as_str));
    runs[1].extend(merge.iter().map(String::as_str));
    for args in runs {
        let json = cvnotify(&[args.as_slice(), &["--format", "json"]].concat());
        let jsonl = cvnotify(&[args.as_slice(), &["--format", "jsonl"]].concat());
        assert_eq!(json.status.code(), jsonl.status.code());
        let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(jsonl.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let of = |kind: &'static str| lines.iter().filter(move |l| l["kind"] == kind);
        let sessions = report["sessions"].as_array().unwrap();
        assert_eq!(of("session").count(), sessions.len());
        let projects: usize = sessions
            .iter()
            .map(|s| s["projects"].as_array().unwrap().len())
            .sum();
        assert_eq!(of("project").count(), projects);
        for (s, line) in sessions.iter().zip(of("session")) {
            assert_eq!(line["verdict"], s["verdict"], "{}", s["file"]);
            assert_eq!(line["checks"], s["checks"], "{}", s["file"]);
            assert_eq!(
                line["projectCount"].as_u64().unwrap() as usize,
                s["projects"].as_array().unwrap().len()
            );
            // Each project line is the JSON report's project, with its recording.
            for p in s["projects"].as_array().unwrap() {
                let found = of("project")
                    .find(|l| l["file"] == s["file"] && l["projectId"] == p["projectId"])
                    .unwrap();
                assert_eq!(found["findings"], p["findings"]);
                assert_eq!(found["history"], p["history"]);
            }
        }
        let last = lines.last().unwrap();
        assert_eq!(last["kind"], "report");
        assert_eq!(last["verdict"], report["verdict"]);
    }
}

/// `replay --format junit` streams (project cases through a temporary file): the same XML, up
/// to whitespace between elements, as the report model renders, for the whole corpus, each
/// recording alone, and a merge.
#[test]
fn streamed_junit_is_the_models_junit() {
    use cvnotify_harness::replay::{replay_merged, replay_streaming};
    use cvnotify_harness::report::{Format, JunitStream, Report, Rules, render};
    let squeeze = |xml: &[u8]| -> String {
        let text = String::from_utf8(xml.to_vec()).unwrap();
        text.lines().map(str::trim).collect::<Vec<_>>().join("")
    };
    let open = |p: &PathBuf| -> (String, Box<dyn std::io::BufRead>) {
        let file = std::fs::File::open(p).unwrap();
        (
            p.display().to_string(),
            Box::new(std::io::BufReader::new(file)),
        )
    };
    let mut jobs: Vec<Vec<PathBuf>> = sessions().into_iter().map(|p| vec![p]).collect();
    jobs.push(vec![
        repo_root().join("corpus/sessions/y_happy_path.jsonl"),
        repo_root().join("corpus/sessions/y_duplicates.jsonl"),
    ]);
    for strict in [false, true] {
        let rules = Rules::default();
        let mut model = Vec::new();
        let mut stream = JunitStream::new("replay", strict).unwrap();
        for job in &jobs {
            let name = job[0].display().to_string();
            let whole =
                replay_merged(&name, job.iter().map(open).collect(), &rules, |_| {}).unwrap();
            model.push(whole);
            let mut failed = None;
            let mut sink = |s: &cvnotify_harness::report::SessionReport, p| {
                if let Err(e) = stream.project(s, &p) {
                    failed = Some(e);
                }
            };
            let session = replay_streaming(
                &name,
                job.iter().map(open).collect(),
                &rules,
                |_| {},
                Some(&mut sink),
                cvnotify_harness::replay::Spill::default(),
            )
            .unwrap();
            assert!(failed.is_none());
            stream.session(&session).unwrap();
        }
        let mut streamed = Vec::new();
        stream.finish(&mut streamed).unwrap();
        let mut rendered = Vec::new();
        let mut report = Report::new("replay", model, strict);
        // Durations differ run to run; everything else must not.
        for s in &mut report.sessions {
            s.seconds = 0.0;
        }
        render(&report, Format::Junit, false, &mut rendered).unwrap();
        let strip_times = |x: String| -> String {
            let mut out = String::new();
            let mut rest = x.as_str();
            while let Some(i) = rest.find(" time=\"") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 7..];
                rest = &after[after.find('"').unwrap() + 1..];
            }
            out.push_str(rest);
            out
        };
        assert_eq!(
            strip_times(squeeze(&streamed)),
            strip_times(squeeze(&rendered)),
            "strict {strict}"
        );
    }
}
