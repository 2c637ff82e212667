//! The documentation as a newcomer meets it: a short README with its table of contents and the
//! two commands a newcomer runs, links and anchors that lead somewhere, and commands that run on
//! a fresh Debian. (The configuration reference is compared with the code by a unit test of
//! `about::reference`; the example configs are run by `examples`.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files users and contributors read.
fn documents() -> Vec<PathBuf> {
    let root = repository();
    let mut files: Vec<PathBuf> = ["README.md", "CONTRIBUTING.md", "BENCHMARKS.md"]
        .iter()
        .map(|f| root.join(f))
        .collect();
    for dir in ["docs", "examples"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Lines outside fenced code blocks, and the lines inside them.
fn split_code(text: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut prose, mut code, mut fenced) = (Vec::new(), Vec::new(), false);
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if fenced {
            code.push(line);
        } else {
            prose.push(line);
        }
    }
    (prose, code)
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces made hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    split_code(text)
        .0
        .iter()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// The targets of `[text](target)` links in prose.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in split_code(text).0 {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_in_the_docs_leads_somewhere() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        for link in links(&text) {
            if link.starts_with("http://") || link.starts_with("https://") {
                continue;
            }
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                doc.clone()
            } else {
                doc.parent().unwrap().join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link}: no such file", doc.display()));
            } else if !anchor.is_empty() && !anchors(&read(&target)).contains(anchor) {
                broken.push(format!("{}: {link}: no such heading", doc.display()));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn the_readme_is_short_has_contents_and_the_two_commands_a_newcomer_runs() {
    let readme = read(&repository().join("README.md"));
    let lines = readme.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines; at most 300");
    let sections: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .collect();
    assert_eq!(sections.first(), Some(&"Contents"), "{sections:?}");
    for section in &sections[1..] {
        assert!(
            readme.contains(&format!("](#{})", slug(section))),
            "the contents list {section}"
        );
    }
    for command in [
        "cargo run --release -- --config sample_config.json",
        "scripts/test.sh",
    ] {
        assert!(readme.contains(command), "README.md shows `{command}`");
    }
}

#[test]
fn no_command_in_the_docs_needs_a_tool_a_fresh_debian_lacks() {
    // Not installed on a fresh Debian (uuid-runtime, jq, xxd, httpie, docker...): the
    // README's send() once sent an empty delivery id because `uuidgen` was missing.
    const MISSING: [&str; 7] = [
        "uuidgen",
        "jq ",
        "xxd",
        "openssl ",
        "http POST",
        "docker ",
        "brew ",
    ];
    let mut found = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        for line in split_code(&text).1 {
            for tool in MISSING {
                if line.contains(tool) {
                    found.push(format!("{}: {tool}: {line}", doc.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
