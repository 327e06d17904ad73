//! Hostile test plugin: `init` always fails with `bad config`, so binding it must be
//! refused with that message. Its `on_message` would pass, but is never reached.

use sluice_plugin_sdk::{Config, Context, Message, Plugin, Verdict, export_plugin};

/// Refuses every config.
pub struct InitFails;

impl Plugin for InitFails {
    fn init(_config: &Config) -> Result<Self, String> {
        Err("bad config".to_string())
    }

    fn on_message(&self, _ctx: &Context, _msg: Message) -> Verdict {
        Verdict::Pass
    }
}

export_plugin!(InitFails);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_fails() {
        assert_eq!(
            InitFails::init(&Config::default()).err().as_deref(),
            Some("bad config")
        );
    }
}
