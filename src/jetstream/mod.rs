//! JetStream: streams that capture subjects and persist messages, and the consumers that
//! read them back. For now only the message store lives here: the trait every stream is
//! built on ([`store::MessageStore`]), with memory and crash-safe file implementations.

pub mod store;
