//! The README's generated blocks are what the binary generates now: a table edit that is not
//! re-rendered into the docs fails here. Regenerate with the command named in each marker.

use std::process::Command;

use crate::support::repo_root;

/// The text between `<!-- BEGIN GENERATED: {command} -->` and the next `<!-- END GENERATED -->`.
fn generated_block<'a>(readme: &'a str, command: &str) -> &'a str {
    let begin = format!("<!-- BEGIN GENERATED: {command} -->\n");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README has no block for `{command}`"))
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
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mermaid = format!(
        "```mermaid\n{}```\n",
        run(&["diagram", "--format", "mermaid"])
    );
    assert_eq!(
        generated_block(&readme, "cvnotify diagram --format mermaid"),
        mermaid,
        "README diagram is stale: paste `cvnotify diagram` into it"
    );
    assert_eq!(
        generated_block(&readme, "cvnotify findings"),
        run(&["findings"]),
        "README findings table is stale: paste `cvnotify findings` into it"
    );
}

#[test]
fn the_dot_diagram_and_json_catalogue_are_well_formed() {
    let dot = run(&["diagram", "--format", "dot"]);
    assert!(dot.starts_with("digraph lifecycle {") && dot.ends_with("}\n"));
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
