//! `--provider prebuilt`: a user's SDK directory or archive.

use std::path::Path;

use anyhow::{bail, Result};

#[allow(dead_code)] // until the next commit
pub struct Request<'a> {
    pub path: &'a Path,
    pub sha256: Option<&'a str>,
    pub out: Option<&'a Path>,
    pub triple: Option<&'a str>,
    pub dry_run: bool,
}

pub fn run(req: &Request<'_>, _root: &Path) -> Result<()> {
    bail!(
        "--provider prebuilt is not implemented yet ({})",
        req.path.display()
    )
}
