//! The sysctl schema (`stdlib/sysctl.json`) as typed data, and the check of
//! one value against one key's entry.

use crate::ir::SysctlValue;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
pub struct Schema {
    pub keys: BTreeMap<String, KeySpec>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ValueType {
    Int { min: i64, max: i64 },
    Bool,
    Enum { values: Vec<String> },
    Ints { count: usize, min: i64, max: i64 },
}

#[derive(Debug, Deserialize, Clone)]
pub struct KeySpec {
    #[serde(flatten)]
    pub ty: ValueType,
    pub netns: bool,
}

/// Why a value does not fit its key.
pub enum ValueError {
    /// A string where a number is wanted, or the reverse.
    Type(String),
    /// Right type, not allowed.
    Range(String, Option<String>),
}

impl Schema {
    /// The embedded schema. It is data shipped with the binary and covered
    /// by tests, so a parse failure yields an empty schema, not a panic.
    pub fn builtin() -> Schema {
        serde_json::from_str(crate::stdlib::SYSCTL_SCHEMA).unwrap_or(Schema {
            keys: BTreeMap::new(),
        })
    }

    /// The entry for a concrete key; `*` components match one interface name.
    pub fn lookup(&self, key: &str) -> Option<&KeySpec> {
        if let Some(s) = self.keys.get(key) {
            return Some(s);
        }
        let parts: Vec<&str> = key.split('.').collect();
        self.keys.iter().find_map(|(pattern, spec)| {
            let pp: Vec<&str> = pattern.split('.').collect();
            let ok =
                pp.len() == parts.len() && pp.iter().zip(&parts).all(|(p, k)| *p == "*" || p == k);
            ok.then_some(spec)
        })
    }

    pub fn key_names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(|s| s.as_str())
    }
}

impl KeySpec {
    /// Check a value; returns it normalised (`on` → 1, ints joined by a space).
    pub fn check(&self, v: &SysctlValue) -> Result<SysctlValue, ValueError> {
        match (&self.ty, v) {
            (ValueType::Bool, SysctlValue::Int(i)) => {
                if *i == 0 || *i == 1 {
                    Ok(v.clone())
                } else {
                    Err(ValueError::Range(
                        format!("`{i}` is not 0 or 1"),
                        Some("use `on`/`off` or 1/0".into()),
                    ))
                }
            }
            (ValueType::Int { min, max }, SysctlValue::Int(i)) => {
                if i < min || i > max {
                    Err(ValueError::Range(
                        format!("`{i}` is outside {min}..={max}"),
                        None,
                    ))
                } else {
                    Ok(v.clone())
                }
            }
            (ValueType::Enum { values }, SysctlValue::Str(s)) => {
                if values.iter().any(|x| x == s) {
                    Ok(v.clone())
                } else {
                    let hint = crate::diag::did_you_mean(s, values.iter().map(|x| x.as_str()))
                        .or_else(|| Some(format!("allowed values: {}", values.join(", "))));
                    Err(ValueError::Range(
                        format!("`{s}` is not an allowed value"),
                        hint,
                    ))
                }
            }
            (ValueType::Ints { count, min, max }, SysctlValue::Str(s)) => {
                let nums: Result<Vec<i64>, _> =
                    s.split_whitespace().map(|w| w.parse::<i64>()).collect();
                match nums {
                    Ok(ns) if ns.len() == *count => {
                        if let Some(bad) = ns.iter().find(|n| *n < min || *n > max) {
                            return Err(ValueError::Range(
                                format!("`{bad}` is outside {min}..={max}"),
                                None,
                            ));
                        }
                        Ok(SysctlValue::Str(
                            ns.iter()
                                .map(|n| n.to_string())
                                .collect::<Vec<_>>()
                                .join(" "),
                        ))
                    }
                    _ => Err(ValueError::Type(format!(
                        "expected {count} integers separated by spaces, as a string"
                    ))),
                }
            }
            (ValueType::Ints { count: 1, .. }, SysctlValue::Int(_)) => Ok(v.clone()),
            (ValueType::Ints { count, .. }, SysctlValue::Int(_)) => Err(ValueError::Type(format!(
                "expected {count} integers in a string, e.g. \"4096 131072 6291456\""
            ))),
            (ValueType::Int { .. } | ValueType::Bool, SysctlValue::Str(_)) => Err(
                ValueError::Type("expected an integer, found a string".into()),
            ),
            (ValueType::Enum { .. }, SysctlValue::Int(_)) => Err(ValueError::Type(
                "expected a string, found an integer".into(),
            )),
        }
    }
}
