//! The module stack of docs/architecture.md, checked: every module of `src/` belongs to
//! one layer, a module imports only from its own layer or the ones below, and the
//! modules import each other without a cycle. A failure names the file, the line and
//! the import, so the fix (move the type down, or the code up) is plain.
//!
//! New module? Give it a layer in [`LAYERS`]; the test fails until it has one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first; a module may import from its own layer and those below.
const LAYERS: [(&str, &[&str]); 6] = [
    // Plain data every layer shares: frames, colours, the bundled font, error and
    // number helpers. `lib` is the crate root (`note!`, `bundled_path`).
    ("frame", &["lib", "frame", "color", "font", "diag", "stats"]),
    // Where frames come from: one `FrameSource` interface over files and cameras.
    ("sources", &["source", "capture"]),
    // The stages of one frame, which know nothing of settings files or rendering.
    (
        "vision",
        &[
            "onnx", "cnn_ext", "qdq", "qconv", "detect", "crop", "classify", "track", "smooth",
            "schedule", "speech", "quality", "caption", "still", "pipeline",
        ],
    ),
    // Settings and wording files: parsing, checking, watching for edits.
    (
        "settings",
        &[
            "config_file",
            "style",
            "profile",
            "config",
            "watch",
            "check",
        ],
    ),
    // The overlay: layout, glyphs, wgpu.
    ("render", &["render"]),
    // Commands, drivers, threads: everything that wires the layers together.
    (
        "app",
        &[
            "session", "events", "replay", "drive", "live", "bench", "main", "cmd",
        ],
    ),
];

/// One `crate::...` use in a file.
struct Import {
    file: PathBuf,
    line: usize,
    text: String,
    target: String,
}

fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, mods))| mods.contains(&module))
        .map(|(i, (name, _))| (i, *name))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/render/gpu.rs` → `render`).
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The code with comments and string literals blanked (lines kept), so doc links and
/// messages that mention `crate::x` are not taken for imports.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                if b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 2;
        } else if c == b'"' && !(i > 0 && b[i - 1] == b'\'' && b.get(i + 1) == Some(&b'\'')) {
            // A string (raw strings in src/ hold no quotes that would end them early).
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                } else if b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// `code` with each `#[cfg(test)]` item blanked (lines kept): a unit test may use any
/// module (a capture test reads a whole settings file), the stack is about the code
/// that ships.
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        // The item ends at the `;` or the `}` that closes its first `{`.
        let mut depth = 0;
        let mut end = item.len();
        for (i, c) in item.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        out.extend(item[..end].chars().filter(|&c| c == '\n'));
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a path after `crate::` names: one, or several for a
/// `crate::{a, b::C}` group.
fn targets(after: &str) -> Vec<String> {
    if let Some(group) = after.strip_prefix('{') {
        let mut depth = 0;
        let mut out = Vec::new();
        let mut start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => start = true,
                c if start && !c.is_whitespace() => {
                    out.push(ident_at(&group[i..]).to_string());
                    start = false;
                }
                _ => {}
            }
        }
        out
    } else {
        vec![ident_at(after).to_string()]
    }
}

/// Items of the crate root, counted as the `lib` module.
fn root_item(name: &str, lib_modules: &BTreeSet<String>) -> String {
    match name {
        "Frame" => "frame".into(),
        n if lib_modules.contains(n) => n.to_string(),
        _ => "lib".into(),
    }
}

fn imports(src: &Path) -> (Vec<String>, Vec<Import>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut lib_modules = BTreeSet::new();
    for f in &files {
        lib_modules.insert(module_of(f.strip_prefix(src).expect("under src")));
    }
    let mut out = Vec::new();
    let mut modules = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src).expect("under src");
        let module = module_of(rel);
        modules.push(module.clone());
        // The binary (main.rs, cmd/) reaches the library as `emocue::`; its own
        // `crate::` paths are app code.
        let binary = module == "main" || module == "cmd";
        let text = std::fs::read_to_string(f).expect("read source");
        let code = without_tests(&code_only(&text));
        for (n, line) in code.lines().enumerate() {
            for prefix in ["crate::", "emocue::"] {
                if prefix == "emocue::" && !binary {
                    continue;
                }
                let mut rest = line;
                while let Some(at) = rest.find(prefix) {
                    let before = rest[..at].chars().last();
                    let after = &rest[at + prefix.len()..];
                    rest = after;
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                        continue;
                    }
                    for t in targets(after) {
                        let target = if binary && prefix == "crate::" {
                            "cmd".to_string()
                        } else {
                            root_item(&t, &lib_modules)
                        };
                        out.push(Import {
                            file: rel.to_owned(),
                            line: n + 1,
                            text: line.trim().to_string(),
                            target,
                        });
                    }
                }
            }
        }
    }
    modules.sort();
    modules.dedup();
    (modules, out)
}

fn problems(src: &Path) -> Vec<String> {
    let (modules, imports) = imports(src);
    let mut problems = Vec::new();
    for m in &modules {
        if layer_of(m).is_none() {
            problems.push(format!(
                "src/{m}: module `{m}` has no layer; add it to LAYERS in tests/layers.rs \
                 (docs/architecture.md says which)"
            ));
        }
    }
    // module -> module -> first import that makes the edge
    let mut graph: BTreeMap<String, BTreeMap<String, &Import>> = BTreeMap::new();
    for i in &imports {
        let from = module_of(&i.file);
        if from == i.target {
            continue;
        }
        if let (Some((lf, nf)), Some((lt, nt))) = (layer_of(&from), layer_of(&i.target))
            && lt > lf
        {
            problems.push(format!(
                "src/{}:{}: `{from}` ({nf} layer) imports `{}` ({nt} layer), a higher \
                     layer: `{}`",
                i.file.display(),
                i.line,
                i.target,
                i.text
            ));
        }
        graph
            .entry(from)
            .or_default()
            .entry(i.target.clone())
            .or_insert(i);
    }
    if let Some(cycle) = find_cycle(&graph) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| {
                let i = graph[&w[0]][&w[1]];
                format!(
                    "  {} -> {} (src/{}:{}: `{}`)",
                    w[0],
                    w[1],
                    i.file.display(),
                    i.line,
                    i.text
                )
            })
            .collect();
        problems.push(format!(
            "the modules import each other in a circle:\n{}",
            steps.join("\n")
        ));
    }
    problems
}

/// A cycle as a list of modules whose first and last are the same, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeMap<String, &Import>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, &Import>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = path.iter().position(|p| p == next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            let mut path = Vec::new();
            if let Some(c) = visit(node, graph, &mut state, &mut path) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn modules_form_a_one_way_stack_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = problems(&src);
    assert!(
        problems.is_empty(),
        "the module stack of docs/architecture.md is broken:\n{}",
        problems.join("\n")
    );
}

/// The check itself can fail: a small tree with an upward import and a cycle.
#[test]
fn an_upward_import_and_a_cycle_are_named() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("layers-bad");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("render")).unwrap();
    let write = |p: &str, s: &str| std::fs::write(dir.join(p), s).unwrap();
    write(
        "lib.rs",
        "pub mod frame;\npub mod pipeline;\npub mod render;\n",
    );
    write(
        "frame.rs",
        "// crate::render in a comment is no import\n#[cfg(test)]\nmod tests { use crate::render; }\n",
    );
    write(
        "pipeline.rs",
        "use crate::{frame::Frame, render::Notice};\nlet s = \"crate::config\";\n",
    );
    write("render/mod.rs", "use crate::pipeline::FrameResult;\n");
    let p = problems(&dir);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(
        p[0].starts_with("src/pipeline.rs:1: `pipeline` (vision layer) imports `render`"),
        "{}",
        p[0]
    );
    assert!(p[1].contains("pipeline -> render") && p[1].contains("render -> pipeline"));
}
