//! Parsing tg_owt's CMake export (pure).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

// ---------------------------------------------------------------------------------------
// CMake export parsing (pure)
// ---------------------------------------------------------------------------------------

/// An imported target from a CMake export file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CmakeTarget {
    /// `STATIC`, `SHARED`, `INTERFACE`, …
    pub kind: String,
    /// Properties with `${_IMPORT_PREFIX}` resolved.
    pub props: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct CmakePackage {
    pub targets: BTreeMap<String, CmakeTarget>,
}

pub(super) fn load_cmake_package(targets_file: &Path) -> Result<CmakePackage> {
    let text = fs::read_to_string(targets_file)
        .with_context(|| format!("reading {}", targets_file.display()))?;
    let dir = targets_file
        .parent()
        .context("targets file has no parent")?;
    let mut configs = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("tg_owtTargets-") && name.ends_with(".cmake") {
            configs.push(
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
            );
        }
    }
    let config_refs: Vec<&str> = configs.iter().map(String::as_str).collect();
    parse_cmake(targets_file, &text, &config_refs)
        .with_context(|| format!("parsing {}", targets_file.display()))
}

/// Parse a CMake export (`<Pkg>Targets.cmake` and its `<Pkg>Targets-<config>.cmake`
/// siblings) into imported targets. `targets_file` is where the text came from: the
/// export computes `_IMPORT_PREFIX` from its own location.
pub fn parse_cmake(targets_file: &Path, text: &str, configs: &[&str]) -> Result<CmakePackage> {
    let prefix = import_prefix(targets_file, text)?;
    let prefix = prefix.to_string_lossy();
    let mut package = CmakePackage::default();
    for source in std::iter::once(text).chain(configs.iter().copied()) {
        for (name, args) in commands(source)? {
            match name.to_ascii_lowercase().as_str() {
                "add_library" if args.get(2).map(String::as_str) == Some("IMPORTED") => {
                    package.targets.entry(args[0].clone()).or_default().kind = args[1].clone();
                }
                "set_target_properties" => {
                    let Some(split) = args.iter().position(|a| a == "PROPERTIES") else {
                        bail!("set_target_properties without PROPERTIES: {args:?}");
                    };
                    let (names, kv) = args.split_at(split);
                    let kv = &kv[1..];
                    if kv.len() % 2 != 0 {
                        bail!(
                            "set_target_properties({}): odd property list",
                            names.join(" ")
                        );
                    }
                    for name in names {
                        let target = package.targets.entry(name.clone()).or_default();
                        for pair in kv.chunks(2) {
                            let value = pair[1].replace("${_IMPORT_PREFIX}", &prefix);
                            target.props.insert(pair[0].clone(), value);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if package.targets.is_empty() {
        bail!("no imported targets found");
    }
    Ok(package)
}

/// `_IMPORT_PREFIX` as the export computes it: the file's directory, then one level up per
/// `get_filename_component(_IMPORT_PREFIX "${_IMPORT_PREFIX}" PATH)`.
fn import_prefix(targets_file: &Path, text: &str) -> Result<PathBuf> {
    let ups = text
        .lines()
        .filter(|l| {
            l.trim() == r#"get_filename_component(_IMPORT_PREFIX "${_IMPORT_PREFIX}" PATH)"#
        })
        .count();
    let mut prefix = targets_file
        .parent()
        .context("targets file has no directory")?
        .to_owned();
    for _ in 0..ups {
        prefix = prefix
            .parent()
            .with_context(|| {
                format!(
                    "_IMPORT_PREFIX goes above / from {}",
                    targets_file.display()
                )
            })?
            .to_owned();
    }
    Ok(prefix)
}

/// Split CMake source into command invocations `(name, args)`: unquoted and quoted
/// arguments, `#` comments, nested parentheses (as in `if(...)`) flattened. Enough for
/// generated export files; not a CMake interpreter (no variable expansion).
fn commands(text: &str) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                    chars.next();
                }
                if chars.next_if_eq(&'(').is_none() {
                    continue;
                }
                let mut args = Vec::new();
                let mut depth = 1;
                let mut arg = String::new();
                let mut in_arg = false;
                loop {
                    let Some(c) = chars.next() else {
                        bail!("unterminated {name}(");
                    };
                    match c {
                        '"' => {
                            in_arg = true;
                            loop {
                                match chars.next() {
                                    None => bail!("unterminated string in {name}("),
                                    Some('"') => break,
                                    Some('\\') => match chars.next() {
                                        Some('n') => arg.push('\n'),
                                        Some('t') => arg.push('\t'),
                                        // `\;` keeps a literal ';' in a list element.
                                        Some(';') => arg.push_str("\\;"),
                                        Some(c) => arg.push(c),
                                        None => bail!("unterminated escape in {name}("),
                                    },
                                    Some(c) => arg.push(c),
                                }
                            }
                        }
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                if in_arg {
                                    args.push(std::mem::take(&mut arg));
                                }
                                break;
                            }
                        }
                        '#' if !in_arg => {
                            for c in chars.by_ref() {
                                if c == '\n' {
                                    break;
                                }
                            }
                        }
                        c if c.is_whitespace() => {
                            if in_arg {
                                args.push(std::mem::take(&mut arg));
                                in_arg = false;
                            }
                        }
                        c => {
                            in_arg = true;
                            arg.push(c);
                        }
                    }
                }
                out.push((name, args));
            }
            _ => {}
        }
    }
    Ok(out)
}
