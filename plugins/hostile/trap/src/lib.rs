//! Hostile test plugin: `on_message` panics, which in a `panic = "abort"` wasm build is a
//! trap (`unreachable`) after the panic message is written to WASI stderr. The host must
//! discard the poisoned instance and start a fresh one for the next message.

use sluice_plugin_sdk::{Config, Context, Message, Plugin, Verdict, export_plugin};

/// Traps on every message; accepts any config.
pub struct Trap;

impl Plugin for Trap {
    fn init(_config: &Config) -> Result<Self, String> {
        Ok(Trap)
    }

    fn on_message(&self, _ctx: &Context, msg: Message) -> Verdict {
        panic!(
            "trap plugin: deliberate panic on a message to {}",
            msg.subject
        );
    }
}

export_plugin!(Trap);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "deliberate panic")]
    fn panics() {
        Trap.on_message(&Context::default(), Message::new("s", ""));
    }
}
