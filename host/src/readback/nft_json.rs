//! `nft -j list table inet T` into a [`Table`]: named sets and maps with
//! their elements, chains with their hook and policy, and each chain's
//! rules as their handle, comment and expression list (left as JSON for
//! `exprs`). The `level` of each `socket cgroupv2` match — absent from nft
//! 1.0.6's JSON — is taken from the text listing's line of the same
//! handle, in order.

use super::Unmodelable;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct TableSet {
    /// `type` as nft prints it (`ipv4_addr`, `cgroupsv2`, `["inet_proto", "inet_service"]`).
    pub ty: Value,
    pub elems: Vec<Value>,
    /// For a map: what it maps to (`verdict`).
    pub map: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct KRule {
    pub handle: u64,
    pub exprs: Vec<Value>,
    /// The levels of its `socket cgroupv2` matches, in order.
    pub levels: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Chain {
    pub hook: Option<String>,
    pub policy: Option<String>,
    pub rules: Vec<KRule>,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub sets: BTreeMap<String, TableSet>,
    pub chains: BTreeMap<String, Chain>,
    /// Base chains in handle order.
    pub base_order: Vec<String>,
}

fn err(chain: &str, handle: Option<u64>, what: impl Into<String>) -> Unmodelable {
    Unmodelable {
        chain: chain.to_string(),
        handle,
        what: what.into(),
    }
}

/// Handle → the `socket cgroupv2 level N` levels of that rule's line.
fn levels_by_handle(text: &str) -> BTreeMap<u64, Vec<usize>> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.trim_start().starts_with("table "))
    {
        let Some((body, h)) = line.rsplit_once("# handle ") else {
            continue;
        };
        let Ok(h) = h.trim().parse::<u64>() else {
            continue;
        };
        let levels = body
            .split("socket cgroupv2 level ")
            .skip(1)
            .filter_map(|s| s.split_whitespace().next()?.parse::<usize>().ok())
            .collect();
        out.insert(h, levels);
    }
    out
}

pub fn parse(json: &str, text: &str, table: &str) -> Result<Table, Unmodelable> {
    let v: Value = serde_json::from_str(json)
        .map_err(|e| err(table, None, format!("nft -j printed what is not JSON: {e}")))?;
    let items = v
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| err(table, None, "nft -j printed no `nftables` list"))?;
    let levels = levels_by_handle(text);
    let mut t = Table::default();
    let mut base: Vec<(u64, String)> = Vec::new();
    for item in items {
        let Some((kind, body)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let name = body.get("name").and_then(Value::as_str).unwrap_or("");
        match kind.as_str() {
            "set" | "map" => {
                t.sets.insert(
                    name.to_string(),
                    TableSet {
                        ty: body.get("type").cloned().unwrap_or(Value::Null),
                        elems: body
                            .get("elem")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default(),
                        map: body.get("map").cloned(),
                    },
                );
            }
            "chain" => {
                let hook = body.get("hook").and_then(Value::as_str).map(str::to_string);
                if hook.is_some() {
                    base.push((
                        body.get("handle").and_then(Value::as_u64).unwrap_or(0),
                        name.to_string(),
                    ));
                }
                let c = t.chains.entry(name.to_string()).or_default();
                c.hook = hook;
                c.policy = body
                    .get("policy")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            "rule" => {
                let chain = body.get("chain").and_then(Value::as_str).unwrap_or("");
                let handle = body.get("handle").and_then(Value::as_u64).unwrap_or(0);
                let exprs = body
                    .get("expr")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let lv = levels.get(&handle).cloned().unwrap_or_default();
                let wanted = exprs
                    .iter()
                    .filter(|e| {
                        e.pointer("/match/left/socket/key").and_then(Value::as_str)
                            == Some("cgroupv2")
                            || e.pointer("/vmap/key/socket/key").and_then(Value::as_str)
                                == Some("cgroupv2")
                    })
                    .count();
                if lv.len() != wanted {
                    return Err(err(
                        chain,
                        Some(handle),
                        "the text listing does not show this rule's cgroup levels",
                    ));
                }
                t.chains
                    .entry(chain.to_string())
                    .or_default()
                    .rules
                    .push(KRule {
                        handle,
                        exprs,
                        levels: lv,
                    });
            }
            _ => {}
        }
    }
    base.sort();
    t.base_order = base.into_iter().map(|(_, n)| n).collect();
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::levels_by_handle;

    #[test]
    fn levels_come_from_the_text() {
        let l = levels_by_handle(
            "\t\tsocket cgroupv2 level 2 @cg_a_l2 accept # handle 7\n\t\tsocket cgroupv2 level 3 vmap @m # handle 9\n",
        );
        assert_eq!(l.get(&7), Some(&vec![2]));
        assert_eq!(l.get(&9), Some(&vec![3]));
    }
}
