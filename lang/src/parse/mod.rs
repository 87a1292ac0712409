//! Parsing facade (owned by the parser work): `parse_file`, `parse_addr_expr`,
//! `parse_service_expr`. Callers see only these; lalrpop stays behind them.
