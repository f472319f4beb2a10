//! What the tarball says about itself: Chromium's DEPS (the WebRTC revision it pins),
//! `chrome/VERSION` (version and milestone) and WebRTC's DEPS (`gclient_gn_args`, the gn
//! args gclient would write to `build/config/gclient_args.gni`).
//!
//! DEPS files are Python; only the few literal shapes they use here are read (a string, a
//! bool, `Str('…')`), and anything else is an error naming the variable, not a guess.

use anyhow::{bail, Context, Result};

/// `chrome/VERSION`: `MAJOR=150` `MINOR=0` `BUILD=7871` `PATCH=100`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChromeVersion {
    pub major: u32,
    pub version: String,
}

pub fn parse_chrome_version(text: &str) -> Result<ChromeVersion> {
    let get = |k: &str| -> Result<u32> {
        let v = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(k)?.strip_prefix('='))
            .with_context(|| format!("chrome/VERSION has no {k}= line"))?;
        v.trim()
            .parse()
            .with_context(|| format!("chrome/VERSION: {k}={v} is not a number"))
    };
    let (major, minor, build, patch) = (get("MAJOR")?, get("MINOR")?, get("BUILD")?, get("PATCH")?);
    Ok(ChromeVersion {
        major,
        version: format!("{major}.{minor}.{build}.{patch}"),
    })
}

/// The commit Chromium's DEPS pins `src/third_party/webrtc` at:
/// `'src/third_party/webrtc': Var('webrtc_git') + '/src.git' + '@' + '<40 hex>'`.
pub fn webrtc_revision(chromium_deps: &str) -> Result<String> {
    let key = "'src/third_party/webrtc'";
    let at = chromium_deps
        .find(key)
        .context("Chromium's DEPS has no 'src/third_party/webrtc' entry")?;
    // The value runs to the next entry; the pin is its first 40-hex-digit word after '@'.
    let rest = &chromium_deps[at + key.len()..];
    let end = rest.find("\n\n").unwrap_or(rest.len()).min(600);
    let value = &rest[..end];
    let after_at = value
        .find('@')
        .map(|i| &value[i..])
        .with_context(|| format!("the webrtc DEPS entry has no '@<revision>': {value:?}"))?;
    after_at
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 40)
        .map(str::to_owned)
        .with_context(|| format!("the webrtc DEPS entry pins no commit: {value:?}"))
}

/// The body of `name = [ … ]` or `name = { … }` (brackets balanced, strings and comments
/// skipped), or None.
fn block<'a>(text: &'a str, name: &str, open: char, close: char) -> Option<&'a str> {
    let start = text
        .match_indices(name)
        .find(|(i, _)| {
            (*i == 0 || text[..*i].ends_with('\n'))
                && text[i + name.len()..].trim_start().starts_with('=')
        })
        .map(|(i, _)| i)?;
    let from = start + text[start..].find(open)?;
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut comment = false;
    for (i, c) in text[from..].char_indices() {
        if comment {
            comment = c != '\n';
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' => comment = true,
            None if c == open => depth += 1,
            None if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[from + 1..from + i]);
                }
            }
            None => {}
        }
    }
    None
}

fn unquote(s: &str) -> Option<&str> {
    let s = s.trim();
    let q = s.chars().next()?;
    (matches!(q, '\'' | '"') && s.len() >= 2 && s.ends_with(q)).then(|| &s[1..s.len() - 1])
}

/// A gn literal for one DEPS var value (`True`, `'x'`, `Str('x')`).
fn gn_literal(name: &str, value: &str) -> Result<String> {
    let v = value.trim().trim_end_matches(',').trim();
    let v = v
        .strip_prefix("Str(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(v);
    match v {
        "True" => return Ok("true".into()),
        "False" => return Ok("false".into()),
        _ => {}
    }
    if let Some(s) = unquote(v) {
        return Ok(format!(
            "\"{}\"",
            s.replace('\\', "\\\\").replace('"', "\\\"")
        ));
    }
    bail!("WebRTC's DEPS var {name} = {value} is not a literal string or bool")
}

/// `build/config/gclient_args.gni` as gclient writes it from WebRTC's DEPS: one line per
/// name in `gclient_gn_args`, its value from `vars`.
pub fn gclient_args_gni(webrtc_deps: &str) -> Result<String> {
    let names = block(webrtc_deps, "gclient_gn_args", '[', ']')
        .context("WebRTC's DEPS has no gclient_gn_args list")?;
    let vars = block(webrtc_deps, "vars", '{', '}').context("WebRTC's DEPS has no vars")?;
    let mut out = String::from("# Generated from WebRTC's DEPS (gclient_gn_args)\n");
    for name in names
        .lines()
        .map(|l| {
            l.split('#')
                .next()
                .unwrap_or("")
                .trim()
                .trim_end_matches(',')
        })
        .filter(|l| !l.is_empty())
    {
        let name = unquote(name).with_context(|| format!("gclient_gn_args entry {name}"))?;
        let value = vars
            .lines()
            .find_map(|l| {
                let (k, v) = l.trim().split_once(':')?;
                (unquote(k)? == name).then_some(v)
            })
            .with_context(|| format!("gclient_gn_args names {name}, which vars does not set"))?;
        out.push_str(&format!("{name} = {}\n", gn_literal(name, value)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROMIUM_DEPS: &str = "vars = {\n  'webrtc_git': 'https://webrtc.googlesource.com',\n}\ndeps = {\n  'src/third_party/wayland':\n    Var('chromium_git') + '/wayland.git' + '@' + 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',\n\n  'src/third_party/webrtc':\n    Var('webrtc_git') + '/src.git' + '@' + '1f975dfd761af6e5d76d28333191973b258d82a8',\n\n  # Wuffs' canonical repository\n  'src/third_party/wuffs/src':\n    Var('chromium_git') + '/wuffs.git' + '@' + 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',\n}\n";

    // The head of WebRTC M150's DEPS, as the tarball carries it.
    const WEBRTC_DEPS: &str = "# This file contains dependencies for WebRTC.\n\ngclient_gn_args_file = 'src/build/config/gclient_args.gni'\ngclient_gn_args = [\n  'android_ndk_version',\n  'generate_location_tags',\n]\n\nvars = {\n  # Keep the Chromium default for these gn args.\n  'generate_location_tags': True,\n  'android_ndk_version': Str('2@30.0.14608247'),\n\n  # comment with a { brace\n  'checkout_configuration': 'default',\n}\n";

    #[test]
    fn webrtc_revision_from_chromium_deps() {
        assert_eq!(
            webrtc_revision(CHROMIUM_DEPS).unwrap(),
            "1f975dfd761af6e5d76d28333191973b258d82a8"
        );
        let err = webrtc_revision("deps = {}\n").unwrap_err().to_string();
        assert!(err.contains("src/third_party/webrtc"), "{err}");
    }

    #[test]
    fn gclient_args_like_gclient_writes_them() {
        assert_eq!(
            gclient_args_gni(WEBRTC_DEPS).unwrap(),
            "# Generated from WebRTC's DEPS (gclient_gn_args)\n\
             android_ndk_version = \"2@30.0.14608247\"\n\
             generate_location_tags = true\n"
        );
        let missing = WEBRTC_DEPS.replace("'generate_location_tags': True,", "");
        let err = gclient_args_gni(&missing).unwrap_err().to_string();
        assert!(err.contains("generate_location_tags"), "{err}");
        let expr = WEBRTC_DEPS.replace("True,", "Var('x') + 'y',");
        assert!(gclient_args_gni(&expr).is_err());
    }

    #[test]
    fn chrome_version() {
        let v = parse_chrome_version("MAJOR=150\nMINOR=0\nBUILD=7871\nPATCH=100\n").unwrap();
        assert_eq!(v.major, 150);
        assert_eq!(v.version, "150.0.7871.100");
        assert!(parse_chrome_version("MAJOR=150\n").is_err());
    }
}
