//! Set algebra: exact interval sets and the address and service sets built
//! on them. Everything the resolver computes from an address or service
//! expression ends up in one of these normal forms.

pub mod addr;
pub mod interval;
pub mod service;

pub use addr::{AddrSet, Family};
pub use interval::IntervalSet;
pub use service::ServiceSet;
