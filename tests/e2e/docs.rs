//! The documentation holds: the generated blocks of docs/lifecycle.md are what the binary
//! generates now (a table edit that is not re-rendered into the docs fails here; regenerate with
//! scripts/update-docs), every relative link in the README and docs/ resolves, and every citation
//! names a document the repository carries; the crate Layout names every module and only modules.

use std::process::Command;

use crate::support::repo_root;

/// The text between `<!-- BEGIN GENERATED: {command} -->` and the next `<!-- END GENERATED -->`.
fn generated_block<'a>(readme: &'a str, command: &str) -> &'a str {
    let begin = format!("<!-- BEGIN GENERATED: {command} -->\n");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("docs/lifecycle.md has no block for `{command}`"))
        + begin.len();
    let end = readme[start..].find("<!-- END GENERATED -->").unwrap() + start;
    &readme[start..end]
}

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cvnotify"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn readme_diagram_and_findings_are_current() {
    let readme = std::fs::read_to_string(repo_root().join("docs/lifecycle.md")).unwrap();
    let mermaid = format!(
        "```mermaid\n{}```\n",
        run(&["diagram", "--format", "mermaid"])
    );
    assert_eq!(
        generated_block(&readme, "cvnotify diagram --format mermaid"),
        mermaid,
        "docs/lifecycle.md diagram is stale: run scripts/update-docs"
    );
    assert_eq!(
        generated_block(&readme, "cvnotify findings"),
        run(&["findings"]),
        "docs/lifecycle.md findings table is stale: run scripts/update-docs"
    );
}

#[test]
fn the_dot_diagram_and_json_catalogue_are_well_formed() {
    let dot = run(&["diagram", "--format", "dot"]);
    assert!(dot.starts_with("digraph lifecycle {") && dot.ends_with("}\n"));
    // Graphviz renders it without a warning (`.ci/run` installs graphviz).
    let mut render = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("graphviz's dot is needed (apt-get install graphviz; .ci/run installs it)");
    use std::io::Write as _;
    render
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let out = render.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "graphviz warned");
    let svg = String::from_utf8(out.stdout).unwrap();
    // Every phase is drawn, and the main path runs left to right: each phase's box lies to
    // the right of the one before it.
    let x_of = |phase: &str| -> f64 {
        let node = svg
            .split("<g id=\"node")
            .find(|g| g.contains(&format!("<title>{phase}</title>")))
            .unwrap_or_else(|| panic!("{phase} is not drawn"));
        let text = node.split("<text").nth(1).unwrap();
        let x = text
            .split("x=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        x.parse().unwrap()
    };
    let main = [
        "Configured",
        "ConnectionTested",
        "Training",
        "Trained",
        "Exported",
    ];
    for pair in main.windows(2) {
        assert!(x_of(pair[0]) < x_of(pair[1]), "{pair:?} not left to right");
    }
    x_of("TrainingFailed");
    x_of("ExportFailed");
    let json: serde_json::Value =
        serde_json::from_str(&run(&["findings", "--format", "json"])).unwrap();
    let codes: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes.len(),
        cvnotify_core::lifecycle::FindingCode::ALL.len()
    );
    assert!(codes.contains(&"backup-blob-missing"));
}

/// Every citation resolves: `docs/protocol.md §N` names a section the file has, and nothing in
/// the repository cites a reference it does not carry.
#[test]
fn every_citation_resolves_to_a_document_in_the_repository() {
    let root = repo_root();
    let reference = std::fs::read_to_string(root.join("docs/protocol.md")).unwrap();
    let sections: Vec<String> = reference
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with('§'))
                .map(str::to_string)
        })
        .collect();
    let mut checked = 0;
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | "node_modules" | ".git" | "corpus") {
                    stack.push(path);
                }
                continue;
            }
            if !["rs", "md", "py", "mjs", "sh", "toml"]
                .iter()
                .any(|e| name.ends_with(e))
                && path.parent().is_none_or(|p| !p.ends_with("scripts"))
            {
                continue;
            }
            // This test names what it looks for.
            if path.ends_with("tests/e2e/docs.rs") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            // Spelled in pieces, so that this file does not itself read as a citation.
            let outside = [
                concat!("../", "shared"),
                concat!("tooling", ".md"),
                concat!("peers", ".md"),
            ];
            for (k, line) in text.lines().enumerate() {
                let at = format!("{}:{}", path.display(), k + 1);
                assert!(
                    !outside.iter().any(|o| line.contains(o)),
                    "{at} cites a file outside the repository: {line}"
                );
                for (i, _) in line.match_indices("docs/protocol.md §") {
                    let cited: String = line[i + "docs/protocol.md §".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.')
                        .collect();
                    let cited = cited.trim_end_matches('.');
                    assert!(
                        sections.iter().any(|s| s.trim_start_matches('§') == cited),
                        "{at} cites docs/protocol.md §{cited}, which it does not have"
                    );
                    checked += 1;
                }
                let bare = line.replace("docs/protocol.md", "");
                assert!(
                    !bare.contains("protocol.md") || path.ends_with("docs/protocol.md"),
                    "{at} cites protocol.md without its path: {line}"
                );
            }
        }
    }
    assert!(checked > 20, "only {checked} citations found");
}

/// Every relative link of the README, the docs pages and the corpus and integration READMEs
/// resolves to a file of the repository (anchors aside), and every docs page is linked from the
/// README: the front door reaches everything.
#[test]
fn every_link_resolves_and_every_page_is_reachable() {
    let root = repo_root();
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs.iter().cloned());
    for extra in [
        "corpus/README.md",
        "fuzz/README.md",
        "integrations/python/README.md",
        "integrations/js/README.md",
    ] {
        pages.push(root.join(extra));
    }
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            rest = &rest[end..];
            if target.starts_with("http")
                || target.starts_with('#')
                || target.starts_with("mailto:")
            {
                continue;
            }
            let file = target.split('#').next().unwrap();
            let resolved = page.parent().unwrap().join(file);
            assert!(
                resolved.exists(),
                "{}: the link {target} resolves to nothing",
                page.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for doc in &docs {
        let name = format!("docs/{}", doc.file_name().unwrap().to_string_lossy());
        assert!(
            readme.contains(&format!("]({name})")),
            "the README does not link {name}"
        );
    }
    assert!(
        readme.lines().count() < 200,
        "the README is a front door: under 200 lines"
    );
}

/// The names in backticks of `text` that are Rust identifiers in lower snake case (module
/// names; `[`x`]` links included).
fn snake_names(text: &str) -> std::collections::BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_string)
        .collect()
}

/// The modules a file declares (`mod x;`, `pub mod x;`, `pub(crate) mod x;`) and the crates'
/// modules it re-exports as its own (`pub use cvnotify_wire::x;`).
fn declared_modules(source: &str) -> std::collections::BTreeSet<String> {
    source
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .or_else(|| l.strip_prefix("mod "))
                .or_else(|| l.strip_prefix("pub use cvnotify_wire::"))?;
            rest.strip_suffix(';').map(str::to_string)
        })
        .collect()
}

/// The crate's Layout is the code as it is: every module of the harness is named in it, every
/// module name it gives exists, and the simulation's bullet names each of its files (and
/// nothing that is not one).
#[test]
fn the_crate_layout_names_every_module_and_only_modules() {
    let root = repo_root().join("harness/src");
    let lib = std::fs::read_to_string(root.join("lib.rs")).unwrap();
    let docs: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let layout = &docs[docs.find("## Layout").expect("a Layout section")..];
    let named = snake_names(layout);
    let modules = declared_modules(&lib);
    for m in &modules {
        assert!(named.contains(m), "the Layout does not name module `{m}`");
    }
    // The bullets, each starting with `- `; the simulation's is the one that starts with it.
    let bullets: Vec<String> = layout
        .split("\n - ")
        .map(|b| b.replace("\n  ", " "))
        .collect();
    let sim = bullets
        .iter()
        .find(|b| b.starts_with("[`sim`]"))
        .expect("a bullet for sim");
    let sim_files: std::collections::BTreeSet<String> = std::fs::read_dir(root.join("sim"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_string();
            (p.is_dir() || p.extension().is_some_and(|x| x == "rs"))
                .then_some(stem)
                .filter(|s| s != "mod")
        })
        .collect();
    let sim_named: std::collections::BTreeSet<String> = snake_names(sim)
        .into_iter()
        .filter(|n| n != "sim")
        .collect();
    assert_eq!(
        sim_named, sim_files,
        "the Layout's sim bullet names other modules than sim/ holds"
    );
    // Every other name a bullet links or quotes that looks like a module is one: a top-level
    // module, or one of the simulation's, or a documented path into one (`cmd::prelude`).
    for name in &named {
        let known = modules.contains(name)
            || sim_files.contains(name)
            || ["cmd", "prelude"].contains(&name.as_str());
        assert!(known, "the Layout names `{name}`, which is no module");
    }
}
