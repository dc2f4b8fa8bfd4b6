//! The scenario table of docs/design.md (section 10) against the tests: every
//! scenario names at least one test whose name starts with its id, and every
//! test it names exists in the file it names.

use std::path::Path;

/// The rows of the scenario table: (id, the tests named in its last cell).
fn scenarios(design: &str) -> Vec<(String, Vec<(String, String)>)> {
    let section = design.split("## 10. Scenarios").nth(1).expect("docs/design.md has section 10");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| id "))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let id = cells[0].to_owned();
            let named = cells
                .last()
                .unwrap()
                .split('`')
                .skip(1)
                .step_by(2)
                .filter_map(|code| code.split_once(".rs::"))
                .map(|(file, test)| (format!("{file}.rs"), test.to_owned()))
                .collect();
            (id, named)
        })
        .collect()
}

#[test]
fn every_scenario_id_names_tests_that_exist_and_carry_the_id() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let design = std::fs::read_to_string(root.join("docs/design.md")).unwrap();
    let rows = scenarios(&design);
    assert!(rows.len() >= 30, "the table was read: {} rows", rows.len());
    for (id, named) in rows {
        let prefix = format!("{}_", id.to_lowercase());
        assert!(
            named.iter().any(|(_, test)| test.starts_with(&prefix)),
            "scenario {id} names no test starting with `{prefix}`: {named:?}"
        );
        for (file, test) in named {
            // A name cut short with `…` stands for the test it begins.
            let test = test.trim_end_matches('…');
            let source = std::fs::read_to_string(root.join("tests/tests").join(&file))
                .unwrap_or_else(|e| panic!("scenario {id} names {file}: {e}"));
            assert!(
                source.contains(&format!("fn {test}")),
                "scenario {id} names {file}::{test}, which is not there"
            );
        }
    }
}
