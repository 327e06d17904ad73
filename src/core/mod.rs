//! The broker core shared by every front-end: subjects, the subscription trie, the message
//! type and the router that fans a published message out to its subscribers.

pub mod headers;
pub mod message;
pub mod router;
pub mod stall;
pub mod subject;
pub mod sublist;
