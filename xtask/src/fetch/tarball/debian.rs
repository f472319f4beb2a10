//! Debian's patch series on a partial tree: the selected entries of `debian/patches/series`,
//! in the series' order, each cut down to the files that were extracted.
//!
//! Only a subset of the tarball is extracted, and Debian's patches touch the whole of
//! Chromium; `patch` would stop on the first missing file. So every patch is split into its
//! per-file sections and only those whose path (after `-p1`) lies under an extracted entry
//! are kept. A selected patch with nothing left is reported, not silently skipped: it may
//! mean the extract list lost a directory the patch is for.

use anyhow::{bail, Result};

/// The entries of a quilt `series` file (comments and blank lines dropped, options after
/// the name ignored).
pub fn series_entries(series: &str) -> Vec<String> {
    series
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap_or(l).to_owned())
        .collect()
}

/// The selected patches in the series' order; a selected name the series does not list is
/// an error (a typo, or a newer package that renamed it).
pub fn ordered_selection(series: &str, selected: &[String]) -> Result<Vec<String>> {
    let entries = series_entries(series);
    if let Some(missing) = selected.iter().find(|s| !entries.contains(s)) {
        bail!(
            "tarball.debian.patches names {missing}, which debian/patches/series does not list\n  \
             hint: check the name against the package's series (a newer package may have renamed it)"
        );
    }
    Ok(entries
        .into_iter()
        .filter(|e| selected.contains(e))
        .collect())
}

/// One patch, cut to the files under `keep` (Chromium-root-relative prefixes). Returns the
/// kept text (header + kept sections) and the number of sections dropped.
pub fn filter_patch(text: &str, keep: &[String]) -> (String, usize, usize) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // Section starts: a `diff ` line, or a `--- ` line directly followed by `+++ ` that is
    // not already part of a section opened by a `diff ` line just above.
    let mut starts = Vec::new();
    let mut opened_by_diff = false;
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("diff ") || l.starts_with("Index: ") {
            starts.push(i);
            opened_by_diff = true;
        } else if l.starts_with("--- ") && lines.get(i + 1).is_some_and(|n| n.starts_with("+++ ")) {
            if !opened_by_diff {
                starts.push(i);
            }
            opened_by_diff = false;
        } else if l.starts_with("@@ ") {
            opened_by_diff = false;
        }
    }
    let header_end = starts.first().copied().unwrap_or(lines.len());
    let mut out: String = lines[..header_end].concat();
    let (mut kept, mut dropped) = (0, 0);
    for (n, &s) in starts.iter().enumerate() {
        let e = starts.get(n + 1).copied().unwrap_or(lines.len());
        let section = &lines[s..e];
        let path = section_path(section);
        let inside = path.as_deref().is_some_and(|p| {
            keep.iter()
                .any(|k| p == k || p.starts_with(&format!("{k}/")))
        });
        if inside {
            out.push_str(&section.concat());
            kept += 1;
        } else {
            dropped += 1;
        }
    }
    (out, kept, dropped)
}

/// The Chromium-root-relative path a section patches (`+++ b/x`, or `--- a/x` for a
/// deletion), with one leading component stripped as `patch -p1` does.
fn section_path(section: &[&str]) -> Option<String> {
    let name = |l: &str, p: &str| -> Option<String> {
        let f = l.strip_prefix(p)?.trim_end();
        let f = f.split('\t').next().unwrap_or(f);
        (f != "/dev/null").then(|| f.split_once('/').map_or(f, |(_, r)| r).to_owned())
    };
    let plus = section.iter().find_map(|l| name(l, "+++ "));
    plus.or_else(|| section.iter().find_map(|l| name(l, "--- ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "\
description: two files, one outside the subset
author: someone

--- a/build/config/BUILD.gn
+++ b/build/config/BUILD.gn
@@ -1 +1 @@
-a
+b
--- a/chrome/browser/x.cc
+++ b/chrome/browser/x.cc
@@ -1 +1 @@
-c
+d
diff --git a/third_party/webrtc/BUILD.gn b/third_party/webrtc/BUILD.gn
index 1..2 100644
--- a/third_party/webrtc/BUILD.gn
+++ b/third_party/webrtc/BUILD.gn
@@ -1 +1 @@
-e
+f
diff --git a/tools/new.py b/tools/new.py
new file mode 100644
--- /dev/null
+++ b/tools/new.py
@@ -0,0 +1 @@
+g
";

    #[test]
    fn keeps_only_sections_under_the_subset() {
        let keep = vec![
            "build".to_owned(),
            "third_party/webrtc".to_owned(),
            "tools".to_owned(),
        ];
        let (out, kept, dropped) = filter_patch(PATCH, &keep);
        assert_eq!((kept, dropped), (3, 1));
        assert!(out.starts_with("description: two files"), "{out}");
        assert!(!out.contains("chrome/browser"), "{out}");
        assert!(
            out.contains("+++ b/build/config/BUILD.gn\n@@ -1 +1 @@\n-a\n+b\n"),
            "{out}"
        );
        assert!(
            out.contains("index 1..2 100644\n--- a/third_party/webrtc/BUILD.gn"),
            "{out}"
        );
        assert!(
            out.contains("new file mode 100644\n--- /dev/null\n+++ b/tools/new.py"),
            "{out}"
        );
        // A prefix is a path prefix, not a string prefix.
        let (_, kept, _) = filter_patch(PATCH, &["build/con".to_owned()]);
        assert_eq!(kept, 0);
    }

    #[test]
    fn selection_follows_the_series_order() {
        let series = "# head\na/one.patch\n\nb/two.patch -p1\n#c/three.patch\nd/four.patch\n";
        let sel = vec!["d/four.patch".to_owned(), "a/one.patch".to_owned()];
        assert_eq!(
            ordered_selection(series, &sel).unwrap(),
            ["a/one.patch", "d/four.patch"]
        );
        let err = ordered_selection(series, &["c/three.patch".to_owned()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("c/three.patch"), "{err}");
    }
}
