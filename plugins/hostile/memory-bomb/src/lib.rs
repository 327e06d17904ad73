//! Hostile test plugin: `on_message` allocates (and touches) 1 MiB after 1 MiB without
//! bound. The host's memory limit (StoreLimits) must make the growth fail, which traps the
//! instance, and cost only this message.

use sluice_plugin_sdk::{Config, Context, Message, Plugin, Verdict, export_plugin};

/// Allocates without bound on every message; accepts any config.
pub struct MemoryBomb;

impl Plugin for MemoryBomb {
    fn init(_config: &Config) -> Result<Self, String> {
        Ok(MemoryBomb)
    }

    fn on_message(&self, _ctx: &Context, msg: Message) -> Verdict {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        let fill = msg.payload.first().copied().unwrap_or(1) | 1;
        loop {
            // Non-zero fill so the pages are really written, not just reserved.
            hoard.push(vec![fill; 1 << 20]);
            std::hint::black_box(&mut hoard);
        }
    }
}

export_plugin!(MemoryBomb);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_accepts_anything() {
        assert!(MemoryBomb::init(&Config::default()).is_ok());
    }
}
