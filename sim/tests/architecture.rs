//! The rules of ARCHITECTURE.md that a reader of the tree relies on, checked on the sources:
//! no module imports a module that imports it (directly or round a longer circle), in any
//! crate; no function in the simulator is longer than a screen and a half (120 lines); every
//! source file opens with a `//!` saying what it owns; nothing cites a file the repository
//! does not hold.
//!
//! Imports are read from `use crate::...` and `crate::...` paths (with one level of braces),
//! each resolved to the file that defines the module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The file that defines the module `segments` names (the deepest one that exists), from
/// the crate's `src`.
fn resolve(src: &Path, segments: &[&str]) -> Option<PathBuf> {
    let mut dir = src.to_path_buf();
    let mut found = None;
    for s in segments {
        let file = dir.join(format!("{s}.rs"));
        let folder = dir.join(s);
        if file.exists() {
            found = Some(file);
        } else if folder.join("mod.rs").exists() {
            found = Some(folder.join("mod.rs"));
        } else {
            break;
        }
        dir = folder;
    }
    found
}

/// The `crate::` paths in `text`, with `crate::a::{b, c::d}` expanded to `a::b` and `a::c::d`.
/// Lines of a file's test module and `pub mod` declarations are not imports.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let head: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let prefix: Vec<String> = head
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let after = &rest[head.len()..];
        if let Some(group) = after.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let mut p = prefix.clone();
                p.extend(
                    item.trim()
                        .split("::")
                        .filter(|s| !s.is_empty() && *s != "self")
                        .map(str::to_owned),
                );
                paths.push(p);
            }
        } else {
            paths.push(prefix);
        }
    }
    paths
}

/// Each file of the crate and the files it imports.
fn graph(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut g = BTreeMap::new();
    for file in rust_files(src) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let mut deps = BTreeSet::new();
        for path in crate_paths(&text) {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            if let Some(target) = resolve(src, &segments) {
                if target != file {
                    deps.insert(target);
                }
            }
        }
        // A folder's mod.rs re-exporting its children (`pub use x::Y`) imports them.
        if file.ends_with("mod.rs") || file.ends_with("lib.rs") {
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
            for line in text.lines() {
                if let Some(rest) = line.trim().strip_prefix("pub use ") {
                    let first = rest.split("::").next().unwrap_or("");
                    if let Some(target) = resolve(&dir, &[first]) {
                        deps.insert(target);
                    }
                }
            }
        }
        g.insert(file, deps);
    }
    g
}

/// A circle of imports, if the graph has one (depth-first search for a back edge).
fn find_cycle(g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        n: &PathBuf,
        g: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        marks: &mut BTreeMap<PathBuf, Mark>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        marks.insert(n.clone(), Mark::Open);
        stack.push(n.clone());
        for d in g.get(n).into_iter().flatten() {
            match marks.get(d).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|s| s == d).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(d, g, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(n.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in g.keys() {
        if marks.get(n).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(c) = visit(n, g, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    for krate in ["sim", "system", "tui"] {
        let src = workspace().join(krate).join("src");
        let g = graph(&src);
        assert!(g.len() > 5, "{krate}: read its sources");
        if let Some(cycle) = find_cycle(&g) {
            let names: Vec<String> = cycle
                .iter()
                .map(|p| p.strip_prefix(&src).unwrap_or(p).display().to_string())
                .collect();
            panic!("{krate}: a circle of imports: {}", names.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_circle_and_only_a_circle() {
    let p = |s: &str| PathBuf::from(s);
    let mut g: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    g.insert(p("a"), [p("b")].into());
    g.insert(p("b"), [p("c")].into());
    g.insert(p("c"), BTreeSet::new());
    assert_eq!(find_cycle(&g), None);
    g.insert(p("c"), [p("a")].into());
    assert_eq!(find_cycle(&g), Some(vec![p("a"), p("b"), p("c"), p("a")]));
    let paths = crate_paths(
        "use crate::world::{broker, sessions::Params};\nlet x = crate::seed::stream(1);",
    );
    assert_eq!(
        paths,
        vec![
            vec!["world".to_owned(), "broker".to_owned()],
            vec![
                "world".to_owned(),
                "sessions".to_owned(),
                "Params".to_owned()
            ],
            vec!["seed".to_owned(), "stream".to_owned()],
        ]
    );
}

/// Lengths of the functions in `text`: from a line that opens a `fn` to the line where its
/// braces close (on rustfmt's layout).
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "async fn ",
            "pub async fn ",
        ]
        .iter()
        .any(|p| t.starts_with(p));
        if !is_fn {
            i += 1;
            continue;
        }
        let name = t
            .split("fn ")
            .nth(1)
            .unwrap_or("")
            .split(['(', '<'])
            .next()
            .unwrap_or("")
            .to_owned();
        let mut depth = 0i64;
        let mut opened = false;
        let mut j = i;
        while j < lines.len() {
            for c in lines[j].chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    ';' if !opened && depth == 0 => break,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                break;
            }
            if !opened && lines[j].trim_end().ends_with(';') {
                break;
            }
            j += 1;
        }
        out.push((name, j - i + 1));
        i += 1;
    }
    out
}

#[test]
fn no_function_in_the_simulator_is_over_120_lines() {
    let src = workspace().join("sim/src");
    let mut long = Vec::new();
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (name, n) in function_lengths(&text) {
            if n > 120 {
                long.push(format!("{}: fn {name}: {n} lines", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over 120 lines:\n{}",
        long.join("\n")
    );
    let sample =
        "fn short() {\n    1\n}\n\nfn long() {\n".to_owned() + &"    x();\n".repeat(130) + "}\n";
    let lengths = function_lengths(&sample);
    assert_eq!(lengths, vec![("short".into(), 3), ("long".into(), 132)]);
}

/// Names of what lies outside the repository: the project's founding design document and the
/// folder beside the checkout that held it (what they said is in ARCHITECTURE.md now). Spelled
/// in parts, so that this file does not itself name them.
const OUTSIDE: [&str; 2] = [concat!("DESIGN", ".md"), concat!("..", "/", "shared")];

#[test]
fn every_source_file_says_what_it_owns_and_cites_nothing_outside_the_repository() {
    for krate in ["sim", "system", "tui", "xtask"] {
        for file in rust_files(&workspace().join(krate)) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if file.components().any(|c| c.as_os_str() == "tests") {
                continue;
            }
            assert!(
                text.trim_start().starts_with("//!"),
                "{} does not open with a //! comment",
                file.display()
            );
            assert!(
                !OUTSIDE.iter().any(|name| text.contains(name)),
                "{} cites a file outside the repository",
                file.display()
            );
        }
    }
}

/// The module names of a crate's `src` that ARCHITECTURE.md's code map must mention: every
/// file's stem (a folder's `mod.rs` by the folder's name), except the crate roots.
fn module_names(src: &Path) -> BTreeSet<String> {
    rust_files(src)
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(src).ok()?;
            let stem = f.file_stem()?.to_str()?;
            match stem {
                // Crate roots, and unit-test modules (named where their module is).
                "lib" | "main" | "tests" => None,
                "mod" => Some(rel.parent()?.file_name()?.to_str()?.to_owned()),
                _ => Some(stem.to_owned()),
            }
        })
        .collect()
}

#[test]
fn the_code_map_in_architecture_md_names_every_module_of_the_simulator_and_the_shop() {
    let root = workspace();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    let mut missing = Vec::new();
    for krate in ["sim", "system", "tui"] {
        for name in module_names(&root.join(krate).join("src")) {
            // A module is named in backticks, alone or as the last part of a path.
            let named = map.contains(&format!("`{name}`"))
                || map.contains(&format!("`{name}/`"))
                || map.contains(&format!("::{name}`"))
                || map.contains(&format!("`{name} "));
            if !named {
                missing.push(format!("{krate}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name these modules: {missing:?}"
    );
}
