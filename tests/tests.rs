//! The integration tests, one binary: each module below is one file of `tests/`, and
//! `tests/common` (the harness) is compiled once for all of them. Run one module with
//! `cargo test --test tests replay::`.

mod common;

mod admission;
mod browser;
mod catalog;
mod crash;
mod credentials;
mod disk_full;
mod docs;
mod examples;
mod field_names;
mod handshakes;
mod hostile_input;
mod hostile_requests;
mod inspector;
mod large_body;
mod meltano;
mod meltano_hub;
mod nats;
mod observability;
mod orchestration;
mod presets;
mod presets_by_hand;
mod receive_and_emit;
mod replay;
mod security;
mod senders;
mod streams;
mod targets;
mod types;
mod wheel;
