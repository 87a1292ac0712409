//! Where one table's installed builds live under a root directory: the
//! paths of `pol_backends::host_paths`, prefixed with the root (`/` on the
//! host itself; an image or a test directory with `--root`).

use pol_backends::host_paths;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    table: String,
}

impl Layout {
    pub fn new(root: &Path, table: &str) -> Self {
        Layout {
            root: root.to_path_buf(),
            table: table.to_string(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when the root is the running system's `/`.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// An absolute host path (`/etc/...`) under the root.
    pub fn under_root(&self, host_path: &str) -> PathBuf {
        self.root.join(host_path.trim_start_matches('/'))
    }

    /// `ROOT/var/lib/polc/TABLE`.
    pub fn table_dir(&self) -> PathBuf {
        self.under_root(&host_paths::table_dir(&self.table))
    }

    /// `ROOT/var/lib/polc/TABLE/generations`.
    pub fn generations_dir(&self) -> PathBuf {
        self.table_dir().join("generations")
    }

    /// `ROOT/var/lib/polc/TABLE/current` (a symlink to `generations/N`).
    pub fn current_link(&self) -> PathBuf {
        self.under_root(&host_paths::current(&self.table))
    }

    /// `ROOT/var/lib/polc/TABLE/lock`: held while installing.
    pub fn lock_file(&self) -> PathBuf {
        self.table_dir().join("lock")
    }

    /// `ROOT/etc/systemd/system`.
    pub fn unit_dir(&self) -> PathBuf {
        self.under_root(host_paths::UNIT_DIR)
    }

    /// `ROOT/etc/sysctl.d/60-polc-TABLE.conf`.
    pub fn sysctl_file(&self) -> PathBuf {
        self.under_root(host_paths::SYSCTL_DIR)
            .join(host_paths::sysctl_file(&self.table))
    }
}
