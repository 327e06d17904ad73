//! Which upstream stream captures a subject, for HTTP publish: a captured publish is sent as
//! a request and answered with the stream's ack (200), anything else is published plainly
//! (202), exactly as in embedded mode.
//!
//! The cluster is asked with `$JS.API.STREAM.NAMES` and its `subject` filter; answers are
//! cached for [`TTL`] so a burst of publishes costs one lookup. A stream created elsewhere is
//! therefore seen within that time: until then a publish is still stored by the stream, only
//! answered 202 instead of with the ack.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use serde::Deserialize;

/// How long an answer about a subject is reused.
pub const TTL: Duration = Duration::from_secs(1);
/// How long the cluster gets to answer a lookup.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Cached subjects kept at most (the cache starts over when full).
const MAX_CACHED: usize = 10_000;

/// Cached answers to "which stream captures this subject".
pub struct StreamLookup {
    client: async_nats::Client,
    cache: Mutex<FxHashMap<String, (Option<String>, Instant)>>,
}

#[derive(Deserialize)]
struct NamesResponse {
    #[serde(default)]
    streams: Option<Vec<String>>,
}

impl StreamLookup {
    pub(super) fn new(client: async_nats::Client) -> Self {
        StreamLookup {
            client,
            cache: Mutex::new(FxHashMap::default()),
        }
    }

    /// The stream capturing `subject`, if any. A cluster without JetStream (no responders)
    /// or one that does not answer in time counts as "none": the publish then goes out
    /// plainly, which is what a NATS client's plain publish would do.
    pub async fn capturing(&self, subject: &str) -> Option<String> {
        if let Some((stream, at)) = self.cache.lock().get(subject)
            && at.elapsed() < TTL
        {
            return stream.clone();
        }
        let body = serde_json::json!({ "subject": subject }).to_string();
        let request = self
            .client
            .request("$JS.API.STREAM.NAMES", body.into_bytes().into());
        let stream = match tokio::time::timeout(LOOKUP_TIMEOUT, request).await {
            Ok(Ok(reply)) => serde_json::from_slice::<NamesResponse>(&reply.payload)
                .ok()
                .and_then(|r| r.streams)
                .and_then(|s| s.into_iter().next()),
            _ => None,
        };
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(subject.to_string(), (stream.clone(), Instant::now()));
        stream
    }
}
