//! The README's Rust blocks cannot rot: each one is compiled and run as a
//! doctest of `hmr-runtime` (its `ReadmeDoctests`), or, where it needs a
//! crate the workspace does not build (`dioxus-devtools`), is marked
//! `<!-- checked: path -->` and taken line by line from that checked file.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// (the comment line before the block, the block's info string, its lines)
fn rust_blocks(text: &str) -> Vec<(Option<&str>, &str, Vec<&str>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(info) = lines[i].strip_prefix("```") {
            let end = (i + 1..lines.len()).find(|&j| lines[j] == "```").expect("a closed block");
            if info.starts_with("rust") || info.is_empty() {
                let before = i.checked_sub(1).map(|b| lines[b]);
                blocks.push((before, info, lines[i + 1..end].to_vec()));
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    blocks
}

#[test]
fn every_rust_block_of_the_readme_is_compiled_or_taken_from_a_checked_file() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = rust_blocks(&readme);
    assert!(blocks.len() >= 2, "the quick start and the live-editing main");
    for (before, info, lines) in blocks {
        assert!(!info.is_empty(), "a block without a language is compiled as Rust: say `text`");
        if info == "rust" {
            continue; // a doctest
        }
        assert_eq!(info, "rust,ignore", "a Rust block is a doctest or a checked one");
        let path = before
            .and_then(|b| b.strip_prefix("<!-- checked: "))
            .and_then(|b| b.strip_suffix(" -->"))
            .unwrap_or_else(|| panic!("an ignored block says which file it is taken from"));
        let source = std::fs::read_to_string(root().join(path)).unwrap();
        // Each line of the block is a line of the file, in order.
        let mut file_lines = source.lines();
        for line in lines.iter().filter(|l| !l.trim().is_empty()) {
            assert!(
                file_lines.any(|f| f == *line),
                "`{line}` is not in {path} (in this order): update the README from it"
            );
        }
    }
}
