//! The HTTP side: the webhook listener and the operations endpoints.

pub mod admission;
pub mod body;
pub mod cors;
pub mod ops;
pub mod receiver;
pub mod refusal;
pub mod reply;
pub mod server;
