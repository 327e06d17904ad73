//! A Sluice plugin that splits a JSON array payload into one message per element (same
//! subject, reply subject and headers); other payloads pass.

use serde_json::value::RawValue;
use sluice_plugin_sdk::{Config, Context, Message, Plugin, Verdict, export_plugin};

/// Splits JSON arrays.
pub struct SplitArray {
    max_elements: Option<usize>,
}

impl Plugin for SplitArray {
    fn init(config: &Config) -> Result<Self, String> {
        config.reject_unknown(&["max_elements"])?;
        Ok(SplitArray {
            max_elements: config.parse("max_elements")?,
        })
    }

    fn on_message(&self, _ctx: &Context, msg: Message) -> Verdict {
        // Cheap test first: only something that starts like an array is parsed.
        if msg.payload.trim_ascii_start().first() != Some(&b'[') {
            return Verdict::Pass;
        }
        let Ok(elements) = serde_json::from_slice::<Vec<&RawValue>>(&msg.payload) else {
            return Verdict::Pass;
        };
        if let Some(max) = self.max_elements
            && elements.len() > max
        {
            return Verdict::reject(format!(
                "array has {} elements, more than the {max} allowed",
                elements.len()
            ));
        }
        Verdict::Emit(
            elements
                .iter()
                .map(|e| Message {
                    subject: msg.subject.clone(),
                    reply_to: msg.reply_to.clone(),
                    headers: msg.headers.clone(),
                    payload: e.get().as_bytes().to_vec(),
                })
                .collect(),
        )
    }
}

export_plugin!(SplitArray);

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(pairs: &[(&str, &str)]) -> SplitArray {
        SplitArray::init(&Config::from_pairs(pairs)).unwrap()
    }

    #[test]
    fn splits_arrays_keeping_subject_and_headers() {
        let msg = Message::new("orders", r#" [ {"id": 1}, 2 ,"x", [3]] "#)
            .with_header("K", "v")
            .with_reply_to("_INBOX.9");
        let Verdict::Emit(out) = plugin(&[]).on_message(&Context::default(), msg.clone()) else {
            panic!("expected emit");
        };
        let payloads: Vec<&[u8]> = out.iter().map(|m| m.payload.as_slice()).collect();
        assert_eq!(payloads, [&br#"{"id": 1}"#[..], b"2", br#""x""#, b"[3]"]);
        for m in &out {
            assert_eq!(m.subject, msg.subject);
            assert_eq!(m.headers, msg.headers);
            assert_eq!(m.reply_to, msg.reply_to);
        }
    }

    #[test]
    fn empty_array_emits_nothing() {
        let v = plugin(&[]).on_message(&Context::default(), Message::new("s", "[]"));
        assert_eq!(v, Verdict::Emit(vec![]));
    }

    #[test]
    fn non_arrays_pass() {
        let p = plugin(&[]);
        for payload in ["{\"a\":[1]}", "1", "[1,", "[1] x", "text", ""] {
            assert_eq!(
                p.on_message(&Context::default(), Message::new("s", payload)),
                Verdict::Pass,
                "{payload}"
            );
        }
    }

    #[test]
    fn max_elements() {
        let p = plugin(&[("max_elements", "2")]);
        assert!(matches!(
            p.on_message(&Context::default(), Message::new("s", "[1,2]")),
            Verdict::Emit(v) if v.len() == 2
        ));
        assert!(matches!(
            p.on_message(&Context::default(), Message::new("s", "[1,2,3]")),
            Verdict::Reject(_)
        ));
        assert!(SplitArray::init(&Config::from_pairs(&[("max_elements", "x")])).is_err());
    }
}
