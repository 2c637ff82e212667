//! The HTTP side: the webhook listener and the operations endpoints.

pub mod admission;
pub mod auth;
pub mod body;
pub mod ops;
pub mod receiver;
pub mod refusal;
pub mod server;
