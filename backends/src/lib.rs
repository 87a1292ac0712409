//! pol-backends: the IR to the deployable artifacts of LANGUAGE.md §11.
//!
//! One module per artifact, each reading only `pol_lang::ir` (plus the
//! `SourceMap` for `FILE:LINE`): `nft` (ruleset.nft), `cgroups`
//! (cgroups.sh), `tunnels` (tunnels.sh), `tuning` (sysctl.conf, tuning.sh),
//! `apply` (apply.sh), `refresh` (refresh.sh: re-adding re-created cgroups
//! to the sets), `systemd` (the boot unit, drop-ins and slice units under `systemd/`),
//! `manifest` (manifest.json: the files and their hashes, for `pol-host`);
//! `host_paths` is where an installed build lives.
//! Text from sources and file names is made safe only
//! by `pol_lang::safe_text` (`sh`, `nft`): `shell::Script` takes it only as
//! `ShWord`/`ShComment`, the ruleset only as `NftString`/`NftComment`. `exec` plans how
//! `polc exec` puts a process into a group. [`build`] is pure and
//! deterministic: the same program gives byte-identical artifacts.

pub mod apply;
pub mod cgroups;
pub mod exec;
pub mod host_paths;
pub mod join;
pub mod manifest;
pub mod mounts;
pub mod nft;
pub mod output;
pub mod refresh;
pub mod shell;
pub mod systemd;
pub mod table_name;
pub mod tuning;
pub mod tunnels;

use pol_lang::ir::Program;
use pol_lang::safe_text::nft as nft_text;
use pol_lang::span::{SourceMap, Span};
use std::fmt;

/// Options of `polc build`.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The nft table (`table inet NAME`), default `pol`.
    pub table: String,
    /// Shortest run of consecutive single-selector rules (same kind) that is
    /// compiled to a verdict-map dispatch instead of a linear chain.
    pub dispatch_min_run: usize,
    /// Shortest run of consecutive rules narrowing one address field that
    /// is compiled to an address dispatch (`nft::addr_run`).
    pub addr_dispatch_min_run: usize,
    /// Dispatch every such run even where the load estimate says the linear
    /// rendering loads faster, and put every cell that can be an exact
    /// element in a hash map (`nft::hashed`) even where too few are to pay
    /// for the map (tests, so small policies exercise both).
    pub addr_dispatch_always: bool,
    /// A build without a policy may empty a loaded table (apply.sh refuses
    /// otherwise): `polc build --allow-empty`.
    pub allow_empty: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            table: "pol".into(),
            dispatch_min_run: 8,
            addr_dispatch_min_run: 16,
            addr_dispatch_always: false,
            allow_empty: false,
        }
    }
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Path relative to the output directory (`systemd/x.service.d/…`).
    pub name: String,
    pub contents: String,
    pub executable: bool,
}

/// A value the artifacts cannot express exactly (so nothing is built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    pub message: String,
    pub span: Option<Span>,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The names of the top-level files, in the order `build` returns them
/// (the files under [`SYSTEMD_DIR`] come before the manifest, which is last).
pub const ARTIFACT_NAMES: [&str; 8] = [
    "ruleset.nft",
    "cgroups.sh",
    "tunnels.sh",
    "sysctl.conf",
    "tuning.sh",
    "refresh.sh",
    "apply.sh",
    manifest::NAME,
];

/// The subdirectory of systemd drop-ins and units.
pub const SYSTEMD_DIR: &str = "systemd";

/// All artifacts of §11, or every reason they cannot be built.
pub fn build(
    program: &Program,
    sources: &SourceMap,
    opts: &BuildOptions,
) -> Result<Vec<Artifact>, Vec<BuildError>> {
    let errors = validate(program, opts);
    if !errors.is_empty() {
        return Err(errors);
    }
    let (sysctl_conf, tuning_sh) = tuning::render(program, sources, &opts.table);
    let (ruleset, elements) = nft::render_with_elements(program, sources, opts, false);
    let file = |name: &str, contents: String, executable: bool| Artifact {
        name: name.to_string(),
        contents,
        executable,
    };
    let mut out = vec![
        file("ruleset.nft", ruleset, false),
        file("cgroups.sh", cgroups::render(program, sources), true),
        file("tunnels.sh", tunnels::render(program, sources), true),
        file("sysctl.conf", sysctl_conf, false),
        file("tuning.sh", tuning_sh, true),
        file(
            "refresh.sh",
            refresh::render_script(opts, sources, &elements),
            true,
        ),
        file("apply.sh", apply::render(program, sources, opts), true),
    ];
    out.extend(systemd::render(program, sources, &opts.table, &elements));
    let m = manifest::Manifest::new(
        &opts.table,
        &entry_name(sources),
        &out,
        manifest::HostState::of(program),
    );
    out.push(file(manifest::NAME, m.render(), false));
    Ok(out)
}

/// The naive rendering of the ruleset (anonymous inline sets, no verdict
/// maps): the benchmark's baseline.
pub fn render_naive_ruleset(program: &Program, sources: &SourceMap, opts: &BuildOptions) -> String {
    nft::render(program, sources, opts, true)
}

/// The entry file's name, for headers.
pub(crate) fn entry_name(sources: &SourceMap) -> String {
    sources
        .files()
        .find(|(_, f)| !f.builtin)
        .map(|(_, f)| f.name.clone())
        .unwrap_or_else(|| "<no file>".into())
}

fn is_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'))
}

/// nft's longest set name (`NFT_SET_MAXNAMELEN` without the NUL).
const MAX_NFT_NAME: usize = 255;

/// What the backends refuse: text nft or sh cannot carry exactly.
fn validate(program: &Program, opts: &BuildOptions) -> Vec<BuildError> {
    let mut errs = Vec::new();
    let mut err = |message: String, span: Option<Span>| errs.push(BuildError { message, span });
    if let Err(why) = table_name::check(&opts.table) {
        err(why, None);
    }
    for g in &program.groups {
        let set = nft::cgroup_set_name(&g.name, pol_lang::ir::MAX_CGROUP_PATH);
        if g.cgroup_paths().next().is_some()
            && (set.len() > MAX_NFT_NAME
                || !g
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        {
            err(
                format!("group name `{}` cannot name its nft set `{set}` (at most {MAX_NFT_NAME} bytes of A-Z a-z 0-9 _ -)", g.name),
                Some(g.span),
            );
        }
        for p in g.cgroup_paths() {
            if !nft_text::quotable(p.as_str()) {
                err(
                    format!(
                        "cgroup path `{p}` of group `{}` contains `\"` or a control or invisible character, which nft cannot quote",
                        g.name
                    ),
                    Some(g.span),
                );
            }
        }
    }
    for p in &program.policies {
        if !nft_text::is_identifier(&p.name) {
            err(
                format!("policy name `{}` is not an nft identifier", p.name),
                Some(p.span),
            );
        }
    }
    for t in &program.tunnels {
        if !is_ifname(&t.dev) {
            err(format!("interface name `{}` of tunnel `{}` is not a valid interface name (1-15 of A-Z a-z 0-9 - _ . @ +)", t.dev, t.name), Some(t.span));
        }
    }
    for s in &program.tuning.sysctls {
        if !tuning::valid_key(&s.key) {
            err(
                format!("sysctl key `{}` is not a valid sysctl name", s.key),
                Some(s.span),
            );
        }
        if let Err(why) = pol_lang::resolve::sysctl_key::check_value(&s.value.to_string()) {
            err(
                format!("the value of sysctl `{}` cannot be written: {why}", s.key),
                Some(s.span),
            );
        }
        if s.value
            .to_string()
            .chars()
            .any(pol_lang::safe_text::sh::needs_escape)
        {
            err(
                format!(
                    "the value of sysctl `{}` contains a control or invisible character",
                    s.key
                ),
                Some(s.span),
            );
        }
    }
    for q in &program.tuning.qdiscs {
        if !is_ifname(&q.dev) {
            err(
                format!("`{}` is not a valid interface name", q.dev),
                Some(q.span),
            );
        }
        if q.kind.is_empty()
            || !q
                .kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            err(format!("`{}` is not a qdisc kind", q.kind), Some(q.span));
        }
    }
    errs
}
