//! Hostile test plugin: every message becomes 100 000 copies of itself (an `emit` verdict
//! of 100 000 messages). The host's emit limit must refuse it and cost only this message.

use sluice_plugin_sdk::{Config, Context, Message, Plugin, Verdict, export_plugin};

/// How many copies each message becomes.
pub const COPIES: usize = 100_000;

/// Emits [`COPIES`] copies of every message; accepts any config.
pub struct Flood;

impl Plugin for Flood {
    fn init(_config: &Config) -> Result<Self, String> {
        Ok(Flood)
    }

    fn on_message(&self, _ctx: &Context, msg: Message) -> Verdict {
        Verdict::Emit(vec![msg; COPIES])
    }
}

export_plugin!(Flood);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_copies() {
        let m = Message::new("s", "x");
        match Flood.on_message(&Context::default(), m.clone()) {
            Verdict::Emit(out) => {
                assert_eq!(out.len(), COPIES);
                assert!(out.iter().all(|o| *o == m));
            }
            other => panic!("{other:?}"),
        }
    }
}
