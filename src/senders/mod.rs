//! What senders do differently: signatures, handshakes, delivery ids.

pub mod handshake;
pub mod idempotency;
pub mod presets;
pub mod signature;
