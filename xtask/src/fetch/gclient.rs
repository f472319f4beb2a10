//! `.gclient`, rendered from `.gclient.template` at the workspace root.
//!
//! The template has three placeholders, each replaced by a Python literal (a `.gclient` is
//! Python): `{{solution_url}}` ('<url>@<revision>'), `{{target_os}}` (['android', 'unix'])
//! and `{{cache_dir}}` ('<dir>', or None: none configured, or `no_history`). Rendering is a pure function of the config, so
//! rendering twice gives the same bytes and the text can key the stamps.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::config::Config;

pub const TEMPLATE: &str = ".gclient.template";

/// A Python string literal for `s`.
pub fn py_str(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

pub fn render(template: &str, template_path: &Path, cfg: &Config) -> Result<String> {
    let target_os = format!(
        "[{}]",
        cfg.targets
            .gclient_target_os()
            .iter()
            .map(|o| py_str(o))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // gclient fills a cache mirror with the full history whatever --no-history says (it
    // passes no depth to git_cache), and the checkout borrows from it: with no_history the
    // cache would hold exactly what no_history is meant to avoid, so it is not used.
    let cache_dir = match &cfg.cache_dir {
        Some(d) if !cfg.no_history => py_str(&d.display().to_string()),
        _ => "None".to_owned(),
    };
    let solution_url = py_str(&format!("{}@{}", cfg.webrtc_url, cfg.revision));
    let mut text = template.to_owned();
    for (key, value) in [
        ("solution_url", &solution_url),
        ("target_os", &target_os),
        ("cache_dir", &cache_dir),
    ] {
        let placeholder = format!("{{{{{key}}}}}");
        if !text.contains(&placeholder) {
            bail!(
                "{} has no {placeholder} placeholder",
                template_path.display()
            );
        }
        text = text.replace(&placeholder, value);
    }
    if let Some(i) = text.find("{{") {
        let rest = &text[i..];
        let end = rest.find("}}").map(|e| e + 2).unwrap_or(rest.len().min(30));
        bail!(
            "{}: unknown placeholder {}",
            template_path.display(),
            &rest[..end]
        );
    }
    Ok(text)
}

pub fn load_and_render(root: &Path, cfg: &Config) -> Result<String> {
    let path = root.join(TEMPLATE);
    let template =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    render(&template, &path, cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigArgs;

    fn cfg(cache: Option<&str>) -> Config {
        crate::config::test_config(ConfigArgs {
            cache_dir: cache.map(Into::into),
            ..Default::default()
        })
    }

    #[test]
    fn renders_the_checked_in_template_deterministically() {
        let root = crate::project_root();
        let c = cfg(Some("/cache"));
        let a = load_and_render(&root, &c).unwrap();
        assert_eq!(a, load_and_render(&root, &c).unwrap());
        assert!(
            a.contains(&format!(
                "\"url\": 'https://webrtc.googlesource.com/src.git@{}',",
                c.revision
            )),
            "{a}"
        );
        assert!(a.contains("target_os = ['android', 'unix']"), "{a}");
        assert!(a.contains("cache_dir = '/cache'"), "{a}");
        assert!(!a.contains("{{"));
    }

    #[test]
    fn no_cache_dir_is_none() {
        let mut c = cfg(None);
        c.cache_dir = None;
        let t = render(
            "c = {{cache_dir}} {{target_os}} {{solution_url}}",
            Path::new("t"),
            &c,
        )
        .unwrap();
        assert!(t.starts_with("c = None "), "{t}");
    }

    #[test]
    fn no_history_does_not_use_the_cache() {
        let mut c = cfg(Some("/cache"));
        c.no_history = true;
        let t = render(
            "{{cache_dir}} {{target_os}} {{solution_url}}",
            Path::new("t"),
            &c,
        )
        .unwrap();
        assert!(t.starts_with("None "), "{t}");
    }

    #[test]
    fn unknown_placeholder_is_an_error() {
        let c = cfg(None);
        let err = render(
            "{{cache_dir}} {{target_os}} {{solution_url}} {{nope}}",
            Path::new("t"),
            &c,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown placeholder {{nope}}"),
            "{err}"
        );
    }

    #[test]
    fn python_literals() {
        assert_eq!(py_str("a'b\\c"), r"'a\'b\\c'");
    }
}
