//! A Sluice plugin that passes every message unchanged: the baseline for measuring the
//! cost of the plugin machinery itself.

use sluice_plugin_sdk::{Config, Context, Message, Plugin, Verdict, export_plugin};

/// Passes everything; takes no config.
pub struct Passthrough;

impl Plugin for Passthrough {
    fn init(config: &Config) -> Result<Self, String> {
        config.reject_unknown(&[])?;
        Ok(Passthrough)
    }

    fn on_message(&self, _ctx: &Context, _msg: Message) -> Verdict {
        Verdict::Pass
    }

    fn on_batch(&self, _ctx: &Context, msgs: Vec<Message>) -> Vec<Verdict> {
        vec![Verdict::Pass; msgs.len()]
    }
}

export_plugin!(Passthrough);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_everything() {
        let p = Passthrough::init(&Config::default()).unwrap();
        let ctx = Context::default();
        assert_eq!(p.on_message(&ctx, Message::new("a.b", "hi")), Verdict::Pass);
        assert_eq!(
            p.on_batch(&ctx, vec![Message::new("a", ""), Message::new("b", "x")]),
            vec![Verdict::Pass, Verdict::Pass]
        );
    }

    #[test]
    fn rejects_config() {
        assert!(Passthrough::init(&Config::from_pairs(&[("x", "1")])).is_err());
    }
}
