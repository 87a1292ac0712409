//! User text inside an nft ruleset (quoted strings, comments, log prefixes).
