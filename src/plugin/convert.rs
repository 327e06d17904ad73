//! Between the broker's [`Message`] (raw NATS header block, `Bytes`) and the plugin's view
//! ([`PluginMessage`]: header pairs, owned bytes), and applying a plugin's [`Edit`].
//!
//! A header block is only rebuilt when a plugin changes headers, so messages a plugin passes
//! or only re-subjects keep their exact bytes (status lines included).

use bytes::Bytes;

use super::host::{Edit, MessageView, PluginMessage};
use crate::core::headers::{
    header_block as write_block, is_valid_name, is_valid_value, parse_nats,
};
use crate::core::message::Message;
use crate::core::subject::is_valid_literal_subject;

/// The header pairs of a NATS header block, in order (values are lossy UTF-8).
pub fn header_pairs(block: &Bytes) -> Vec<(String, String)> {
    parse_nats(block)
        .entries
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect()
}

/// A header block from pairs; `None` when there are none. CR and LF inside names or values
/// (and colons in names) are dropped, so no text can inject protocol lines: plugins' headers
/// are refused before that ([`check_headers`]), this guards the ones the host builds (the
/// dead-letter reason, a rejection's reason).
pub fn header_block(pairs: &[(String, String)]) -> Option<Bytes> {
    if pairs.is_empty() {
        return None;
    }
    let clean: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| {
            (
                k.replace(['\r', '\n', ':'], ""),
                v.replace(['\r', '\n'], ""),
            )
        })
        .collect();
    Some(write_block(
        clean.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())),
    ))
}

/// Checks headers a plugin set or emitted (or a dry run was given): names must be tokens and values must not break
/// the line ([`is_valid_name`], [`is_valid_value`]); `Err` names the first bad one. Such a
/// header would reach subscribers whose clients cannot parse the message.
pub fn check_headers(pairs: &[(String, String)]) -> Result<(), String> {
    for (name, value) in pairs {
        if !is_valid_name(name.as_bytes()) {
            return Err(format!("invalid header name {name:?}"));
        }
        if !is_valid_value(value.as_bytes()) {
            return Err(format!("the value of header {name:?} has a line break"));
        }
    }
    Ok(())
}

/// The plugin's copy of a message.
pub fn to_plugin(msg: &Message) -> PluginMessage {
    PluginMessage {
        subject: String::from_utf8_lossy(&msg.subject).into_owned(),
        reply_to: msg
            .reply
            .as_ref()
            .map(|r| String::from_utf8_lossy(r).into_owned()),
        headers: msg.headers.as_ref().map(header_pairs).unwrap_or_default(),
        payload: msg.payload.to_vec(),
    }
}

/// The borrowed view of a message for a batch call (no copy of subject or payload).
pub fn view(msg: &Message) -> MessageView<'_> {
    MessageView {
        subject: String::from_utf8_lossy(&msg.subject),
        reply_to: msg.reply.as_ref().map(|r| String::from_utf8_lossy(r)),
        headers: msg.headers.as_ref().map(header_pairs).unwrap_or_default(),
        payload: &msg.payload,
    }
}

/// A message a plugin emitted; `Err` names what is wrong with it.
pub fn from_plugin(m: PluginMessage) -> Result<Message, String> {
    if !is_valid_literal_subject(m.subject.as_bytes()) {
        return Err(format!("emitted an invalid subject {:?}", m.subject));
    }
    if let Some(r) = &m.reply_to
        && !is_valid_literal_subject(r.as_bytes())
    {
        return Err(format!("emitted an invalid reply subject {r:?}"));
    }
    check_headers(&m.headers)?;
    Ok(Message {
        subject: Bytes::from(m.subject),
        reply: m.reply_to.map(Bytes::from),
        headers: header_block(&m.headers),
        payload: Bytes::from(m.payload),
    })
}

/// Applies an edit; `Err` when it sets an invalid subject or header.
pub fn apply_edit(mut msg: Message, edit: Edit) -> Result<Message, String> {
    check_headers(&edit.set_headers)?;
    if let Some(subject) = edit.subject {
        if !is_valid_literal_subject(subject.as_bytes()) {
            return Err(format!("set an invalid subject {subject:?}"));
        }
        msg.subject = Bytes::from(subject);
    }
    if !edit.set_headers.is_empty() || !edit.remove_headers.is_empty() {
        let mut pairs = msg.headers.as_ref().map(header_pairs).unwrap_or_default();
        let drop_names: Vec<&str> = edit
            .remove_headers
            .iter()
            .map(String::as_str)
            .chain(edit.set_headers.iter().map(|(k, _)| k.as_str()))
            .collect();
        pairs.retain(|(k, _)| !drop_names.iter().any(|d| d.eq_ignore_ascii_case(k)));
        pairs.extend(edit.set_headers);
        msg.headers = header_block(&pairs);
    }
    if let Some(payload) = edit.payload {
        msg.payload = Bytes::from(payload);
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(headers: Option<&'static [u8]>) -> Message {
        Message {
            subject: Bytes::from_static(b"a.b"),
            reply: None,
            headers: headers.map(Bytes::from_static),
            payload: Bytes::from_static(b"hi"),
        }
    }

    #[test]
    fn headers_round_trip_in_order() {
        let block = b"NATS/1.0\r\nA: 1\r\nB: 2\r\nA: 3\r\n\r\n";
        let pairs = header_pairs(&Bytes::from_static(block));
        assert_eq!(
            pairs,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "2".into()),
                ("A".into(), "3".into())
            ]
        );
        assert_eq!(&header_block(&pairs).unwrap()[..], &block[..]);
        assert_eq!(header_block(&[]), None);
    }

    #[test]
    fn a_plugin_cannot_inject_protocol_lines() {
        let block = header_block(&[("X\r\nPUB a 1".into(), "v\r\n\r\nPUB".into())]).unwrap();
        assert_eq!(&block[..], b"NATS/1.0\r\nXPUB a 1: vPUB\r\n\r\n");
    }

    #[test]
    fn edits_change_only_what_they_name() {
        let original = msg(Some(b"NATS/1.0 503\r\nKeep: 1\r\n\r\n"));
        let same = apply_edit(
            original.clone(),
            Edit {
                subject: Some("c.d".into()),
                set_headers: vec![],
                remove_headers: vec![],
                payload: None,
            },
        )
        .unwrap();
        assert_eq!(
            (&same.subject[..], same.headers.clone()),
            (&b"c.d"[..], original.headers.clone())
        );
        let edited = apply_edit(
            msg(Some(b"NATS/1.0\r\nA: 1\r\nB: 2\r\n\r\n")),
            Edit {
                subject: None,
                set_headers: vec![("a".into(), "9".into())],
                remove_headers: vec!["B".into()],
                payload: Some(b"new".to_vec()),
            },
        )
        .unwrap();
        assert_eq!(&edited.headers.unwrap()[..], b"NATS/1.0\r\na: 9\r\n\r\n");
        assert_eq!(&edited.payload[..], b"new");
        let bad = Edit {
            subject: Some("a.*".into()),
            set_headers: vec![],
            remove_headers: vec![],
            payload: None,
        };
        assert!(apply_edit(msg(None), bad).is_err());
    }

    /// Found by the `plugin_verdicts` fuzz target: header names that are not tokens (empty,
    /// with spaces, colons or non-ASCII) went out to subscribers, whose clients cannot parse
    /// them; now they fail the verdict like an invalid subject does.
    #[test]
    fn plugin_headers_must_be_tokens_without_line_breaks() {
        for (name, value) in [
            ("", "v"),
            ("A B", "v"),
            ("X:Y", "v"),
            ("é", "v"),
            ("X\r\n", "v"),
        ] {
            let edit = Edit {
                set_headers: vec![(name.into(), value.into())],
                ..Edit::default()
            };
            assert!(apply_edit(msg(None), edit).is_err(), "{name:?}");
            let emitted = PluginMessage {
                subject: "x.y".into(),
                headers: vec![(name.into(), value.into())],
                ..PluginMessage::default()
            };
            assert!(from_plugin(emitted).is_err(), "{name:?}");
        }
        let edit = Edit {
            set_headers: vec![("Ok".into(), "a\r\nInjected: 1".into())],
            ..Edit::default()
        };
        assert!(apply_edit(msg(None), edit).is_err());
        let edit = Edit {
            set_headers: vec![("Nats-Msg-Id".into(), "any text: é".into())],
            ..Edit::default()
        };
        let edited = apply_edit(msg(None), edit).unwrap();
        assert_eq!(
            &edited.headers.unwrap()[..],
            "NATS/1.0\r\nNats-Msg-Id: any text: é\r\n\r\n".as_bytes()
        );
    }

    #[test]
    fn emitted_messages_are_validated() {
        let ok = PluginMessage {
            subject: "x.y".into(),
            reply_to: None,
            headers: vec![],
            payload: vec![1],
        };
        assert_eq!(&from_plugin(ok.clone()).unwrap().subject[..], b"x.y");
        assert!(
            from_plugin(PluginMessage {
                subject: "x..y".into(),
                ..ok.clone()
            })
            .is_err()
        );
        assert!(
            from_plugin(PluginMessage {
                reply_to: Some("a b".into()),
                ..ok
            })
            .is_err()
        );
    }
}
