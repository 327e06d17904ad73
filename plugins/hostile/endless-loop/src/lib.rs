//! Hostile test plugin: `on_message` (and so `on_batch`) never returns. The host must stop
//! it with its per-call CPU deadline (epoch interruption) and cost only this message.

use sluice_plugin_sdk::{Config, Context, Message, Plugin, Verdict, export_plugin};

/// Loops forever on every message; accepts any config.
pub struct EndlessLoop;

impl Plugin for EndlessLoop {
    fn init(_config: &Config) -> Result<Self, String> {
        Ok(EndlessLoop)
    }

    fn on_message(&self, _ctx: &Context, msg: Message) -> Verdict {
        let mut n = msg.payload.len() as u64;
        loop {
            // black_box keeps the loop (and its work) from being optimized away.
            n = std::hint::black_box(n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
}

export_plugin!(EndlessLoop);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_accepts_anything() {
        assert!(EndlessLoop::init(&Config::from_pairs(&[("x", "y")])).is_ok());
    }
}
