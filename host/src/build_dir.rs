//! A build directory (`polc build -o DIR`) read and checked against its
//! `manifest.json` before anything is installed from it.
//!
//! Every file the manifest lists must be a regular file (not a symlink)
//! whose SHA-256 and executable bit match; names must be ones `polc build`
//! writes (a top-level artifact, `systemd/UNIT`, `systemd/UNIT.d/50-polc.conf`),
//! so a hand-made manifest cannot make the installer write outside its
//! directories; the table must be one `polc build --table` accepts. Files
//! the manifest does not list are ignored. Contents are read into memory
//! (a build is small; each file is capped), so what is installed is
//! exactly what was checked.

use crate::HostError;
use pol_backends::manifest::{self, FileEntry, Manifest};
use pol_backends::systemd::DROP_IN;
use pol_backends::{ARTIFACT_NAMES, SYSTEMD_DIR};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// No file polc writes comes near this.
const MAX_FILE: u64 = 64 << 20;

/// One checked file of a build.
#[derive(Debug, Clone)]
pub struct BuildFile {
    pub entry: FileEntry,
    pub contents: Vec<u8>,
}

/// A checked build directory.
#[derive(Debug, Clone)]
pub struct BuildDir {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// The manifest's own text, installed as it is.
    pub manifest_text: String,
    pub files: Vec<BuildFile>,
}

/// A systemd unit file name as systemd accepts it (`unit_name_is_valid`):
/// 1–255 characters of `[A-Za-z0-9:_.@\\-]`, one of the types polc writes.
fn unit_file_name(name: &str) -> bool {
    name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.@\\-".contains(c))
        && [".service", ".slice", ".socket"]
            .iter()
            .any(|t| name.len() > t.len() && name.ends_with(t))
}

/// True for the names `polc build` writes.
pub fn is_build_name(name: &str) -> bool {
    if ARTIFACT_NAMES.contains(&name) && name != manifest::NAME {
        return true;
    }
    let Some(rest) = name
        .strip_prefix(SYSTEMD_DIR)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    match rest.split_once('/') {
        None => unit_file_name(rest) && !rest.ends_with(".socket"),
        Some((dir, file)) => file == DROP_IN && dir.strip_suffix(".d").is_some_and(unit_file_name),
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, HostError> {
    let meta = fs::symlink_metadata(path).map_err(|e| HostError::io("read", path, e))?;
    if !meta.is_file() {
        return Err(HostError::new(format!(
            "`{}` is not a regular file",
            path.display()
        )));
    }
    let f = fs::File::open(path).map_err(|e| HostError::io("read", path, e))?;
    let mut buf = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| HostError::io("read", path, e))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(HostError::new(format!(
            "`{}` is larger than any file polc writes",
            path.display()
        )));
    }
    Ok(buf)
}

impl BuildDir {
    /// Read and check `dir`.
    pub fn open(dir: &Path) -> Result<Self, HostError> {
        let mpath = dir.join(manifest::NAME);
        if !dir.is_dir() {
            return Err(HostError::new(format!(
                "`{}` is not a directory (a build directory is what `polc build -o DIR` writes)",
                dir.display()
            )));
        }
        if !mpath.exists() {
            return Err(HostError::new(format!(
                "`{}` has no {}: it is not a build directory of this polc (run `polc build FILE -o {}`)",
                dir.display(),
                manifest::NAME,
                dir.display()
            )));
        }
        let bytes = read_capped(&mpath)?;
        let manifest_text = String::from_utf8(bytes)
            .map_err(|_| HostError::new(format!("`{}` is not UTF-8", mpath.display())))?;
        let manifest = Manifest::parse(&manifest_text)
            .map_err(|e| HostError::new(format!("`{}`: {e}", mpath.display())))?;
        pol_backends::table_name::check(&manifest.table)
            .map_err(|e| HostError::new(format!("`{}`: table: {e}", mpath.display())))?;
        let boot = format!("{SYSTEMD_DIR}/{}", manifest.boot_unit);
        if manifest.boot_unit != pol_backends::host_paths::boot_unit(&manifest.table)
            || !manifest.files.iter().any(|f| f.name == boot)
        {
            return Err(HostError::new(format!(
                "`{}`: the boot unit is not `{}`",
                mpath.display(),
                pol_backends::host_paths::boot_unit(&manifest.table)
            )));
        }
        let mut files = Vec::new();
        for entry in &manifest.files {
            if !is_build_name(&entry.name) {
                return Err(HostError::new(format!(
                    "`{}` lists `{}`, which is not a file polc writes",
                    mpath.display(),
                    entry.name.escape_debug()
                )));
            }
            let path = dir.join(&entry.name);
            let contents = read_capped(&path)?;
            if manifest::sha256_hex(&contents) != entry.sha256 {
                return Err(HostError::new(format!(
                    "`{}` does not match {} (edited or copied in part since it was built): rebuild it",
                    path.display(),
                    manifest::NAME
                )));
            }
            let mode = fs::symlink_metadata(&path)
                .map_err(|e| HostError::io("read", &path, e))?
                .permissions()
                .mode();
            if entry.executable && mode & 0o100 == 0 {
                return Err(HostError::new(format!(
                    "`{}` is not executable, but it was built so",
                    path.display()
                )));
            }
            files.push(BuildFile {
                entry: entry.clone(),
                contents,
            });
        }
        Ok(BuildDir {
            dir: dir.to_path_buf(),
            manifest,
            manifest_text,
            files,
        })
    }

    /// The files under `systemd/`, as (name relative to `systemd/`, file).
    pub fn systemd_files(&self) -> impl Iterator<Item = (&str, &BuildFile)> {
        self.files.iter().filter_map(|f| {
            f.entry
                .name
                .strip_prefix(SYSTEMD_DIR)
                .and_then(|r| r.strip_prefix('/'))
                .map(|r| (r, f))
        })
    }

    /// The file named `name`, if the build has it.
    pub fn file(&self, name: &str) -> Option<&BuildFile> {
        self.files.iter().find(|f| f.entry.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::is_build_name;

    #[test]
    fn only_names_polc_writes() {
        for ok in [
            "ruleset.nft",
            "apply.sh",
            "systemd/polc-pol.service",
            "systemd/browser.slice",
            "systemd/web.service.d/50-polc.conf",
            "systemd/getty@tty1.service.d/50-polc.conf",
            "systemd/cups.socket.d/50-polc.conf",
        ] {
            assert!(is_build_name(ok), "{ok}");
        }
        for bad in [
            "manifest.json",
            "../etc/passwd",
            "/etc/passwd",
            "systemd/../../x.service",
            "systemd/x.service.d/../../y.service",
            "systemd/x.service.d/other.conf",
            "systemd/x.socket",
            "systemd/x.conf",
            "systemd/.service",
            "systemd/a/b.service",
            "other.sh",
        ] {
            assert!(!is_build_name(bad), "{bad}");
        }
    }
}
