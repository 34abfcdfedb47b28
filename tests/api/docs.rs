//! The repository documents itself: `docs/api.md` names exactly the routes
//! that are served, and every relative link in the README and `docs/` leads to
//! a file (and heading) inside the repository, which is all a reader has.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::helpers::spawn_app_with;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .expect("the manifest dir exists")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The lines of a Markdown text outside fenced code blocks.
fn prose(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// Every `METHOD /path` written in the text, without query strings.
fn routes_named_in(text: &str) -> BTreeSet<(String, String)> {
    let mut named = BTreeSet::new();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        for (at, _) in text.match_indices(&format!("{method} /")) {
            if text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            {
                continue;
            }
            let path: String = text[at + method.len() + 1..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '`' | '?' | ')' | ',' | '"'))
                .collect();
            let path = path.trim_end_matches(['.', ':', ';']);
            named.insert((method.to_owned(), path.to_owned()));
        }
    }
    named
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_api_md_names_exactly_the_served_routes() {
    let app = spawn_app_with(|c| c.workers = 0).await;
    let doc = app.get_json("/openapi.json").await;
    let served: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let named = routes_named_in(&read(&repository().join("docs/api.md")));
    let undocumented: Vec<_> = served.difference(&named).collect();
    assert!(
        undocumented.is_empty(),
        "served but missing from docs/api.md: {undocumented:?}"
    );
    let unserved: Vec<_> = named.difference(&served).collect();
    assert!(
        unserved.is_empty(),
        "named in docs/api.md but not served: {unserved:?}"
    );
}

/// The targets of the Markdown links `[text](target)` in the text.
fn link_targets(text: &str) -> Vec<String> {
    prose(text)
        .flat_map(|line| line.match_indices("](").map(move |(at, _)| &line[at + 2..]))
        .map(|rest| {
            rest.chars()
                .take_while(|c| *c != ')' && !c.is_whitespace())
                .collect()
        })
        .collect()
}

/// The anchors of the text's headings, as GitHub makes them.
fn anchors(text: &str) -> BTreeSet<String> {
    prose(text)
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| {
            heading
                .trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

#[test]
fn every_relative_link_in_the_readme_and_docs_leads_inside_the_repository() {
    let root = repository();
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut checked = 0;
    for file in &files {
        for target in link_targets(&read(file)) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let shown = format!("{}: link {target:?}", file.display());
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let destination = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let destination = destination
                .canonicalize()
                .unwrap_or_else(|_| panic!("{shown} leads to nothing"));
            // Outside the repository, a file may exist here and be missing for every reader.
            assert!(
                destination.starts_with(&root),
                "{shown} leads outside the repository"
            );
            if let Some(anchor) = anchor {
                assert!(
                    anchors(&read(&destination)).contains(anchor),
                    "{shown}: no such heading"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no relative link was found to check");
}
