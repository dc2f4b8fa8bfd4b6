//! Compile tests of `#[hmr_track]`; this crate has no code of its own.
//!
//! - `tests/ui.rs`: trybuild runs `fail/*.rs` (each must fail with the error in
//!   its `.stderr`) and `pass/*.rs` (each must compile and run).
//! - `tests/expand.rs`: macrotest compares `expand/*.rs` with the checked-in
//!   `*.expanded.rs`.
