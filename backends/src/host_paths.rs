//! Where an installed build lives on a host: the paths the generated boot
//! unit names and that `pol-host` installs to. One place, so the build's
//! artifacts and the installer cannot disagree.
//!
//! ```text
//! /var/lib/polc/TABLE/generations/N/   one installed build (a copy of DIR)
//! /var/lib/polc/TABLE/current          -> generations/N (what the boot unit applies)
//! /etc/systemd/system/polc-TABLE.service   the boot unit
//! /etc/systemd/system/UNIT.d/50-polc.conf  drop-ins; owned slices and refresh services
//! /etc/sysctl.d/60-polc-TABLE.conf     the tuning, for systemd-sysctl
//! ```

/// The root of polc's state on a host.
pub const STATE_DIR: &str = "/var/lib/polc";

/// Where systemd units and drop-ins are installed (the administrator's
/// directory, which takes precedence over the vendor's).
pub const UNIT_DIR: &str = "/etc/systemd/system";

/// Where the sysctl.d file is installed (read by systemd-sysctl at boot).
pub const SYSCTL_DIR: &str = "/etc/sysctl.d";

/// `/var/lib/polc/TABLE`.
pub fn table_dir(table: &str) -> String {
    format!("{STATE_DIR}/{table}")
}

/// `/var/lib/polc/TABLE/current`: the generation the boot unit applies.
pub fn current(table: &str) -> String {
    format!("{}/current", table_dir(table))
}

/// The boot unit's name, `polc-TABLE.service`.
pub fn boot_unit(table: &str) -> String {
    format!("polc-{table}.service")
}

/// The sysctl.d file's name, `60-polc-TABLE.conf` (after Debian's own
/// `50-*.conf` defaults, before an administrator's `99-*`).
pub fn sysctl_file(table: &str) -> String {
    format!("60-polc-{table}.conf")
}
