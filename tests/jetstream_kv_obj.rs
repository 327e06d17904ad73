//! Key-value and object stores through async-nats, which build them on JetStream streams
//! (`KV_<bucket>` on `$KV.<bucket>.>`, `OBJ_<bucket>` on `$O.<bucket>.C.>` and `.M.>`).
//! Validated against nats-server 2.15.1 (`SLUICE_TEST_REFERENCE=/path/to/nats-server`).

mod common;

use std::time::Duration;

use async_nats::jetstream::kv::{self, Operation};
use async_nats::jetstream::object_store;
use async_nats::jetstream::stream::{DiscardPolicy, StorageType};
use common::js::{JsServer, js};
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;

async fn bucket(js: &async_nats::jetstream::Context, name: &str, history: i64) -> kv::Store {
    js.create_key_value(kv::Config {
        bucket: name.to_string(),
        history,
        ..Default::default()
    })
    .await
    .expect("create bucket")
}

async fn next_entry(watch: &mut kv::Watch) -> kv::Entry {
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("watch entry within 5 s")
        .expect("watch open")
        .expect("watch entry")
}

#[tokio::test]
async fn bucket_is_a_stream_with_kv_settings() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let kv = bucket(&js, "cfg", 5).await;
    let status = kv.status().await.unwrap();
    assert_eq!(status.bucket(), "cfg");
    assert_eq!(status.history(), 5);
    assert_eq!(status.values(), 0);
    let info = js
        .get_stream("KV_cfg")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    let c = &info.config;
    assert_eq!(c.subjects, vec!["$KV.cfg.>".to_string()]);
    assert_eq!(c.max_messages_per_subject, 5);
    assert!(c.allow_rollup);
    assert!(c.deny_delete);
    assert!(c.allow_direct);
    assert_eq!(c.discard, DiscardPolicy::New);
    assert_eq!(c.storage, StorageType::File);
    // The same bucket opened again by name.
    let again = js.get_key_value("cfg").await.unwrap();
    again.put("k", "v".into()).await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().unwrap(), "v");
    assert!(js.get_key_value("nope").await.is_err());
    js.delete_key_value("cfg").await.unwrap();
    assert!(js.get_stream("KV_cfg").await.is_err());
}

#[tokio::test]
async fn put_get_update_create_delete_purge() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let kv = bucket(&js, "app", 5).await;
    assert_eq!(kv.put("a", "a1".into()).await.unwrap(), 1);
    assert_eq!(kv.put("a", "a2".into()).await.unwrap(), 2);
    assert_eq!(kv.put("b", "b1".into()).await.unwrap(), 3);
    assert_eq!(kv.get("a").await.unwrap().unwrap(), "a2");
    assert!(kv.get("missing").await.unwrap().is_none());
    let e = kv.entry("a").await.unwrap().unwrap();
    assert_eq!(
        (e.key.as_str(), e.revision, e.operation),
        ("a", 2, Operation::Put)
    );
    assert_eq!(e.bucket, "app");
    assert_eq!(e.value, "a2");
    let old = kv.entry_for_revision("a", 1).await.unwrap().unwrap();
    assert_eq!(old.value, "a1");

    // Update needs the current revision of the key.
    assert_eq!(kv.update("a", "a3".into(), 2).await.unwrap(), 4);
    assert!(kv.update("a", "stale".into(), 2).await.is_err());
    assert!(kv.update("b", "wrong".into(), 4).await.is_err());
    assert_eq!(kv.get("a").await.unwrap().unwrap(), "a3");

    // Create only when the key does not exist (or was deleted).
    assert_eq!(kv.create("c", "c1".into()).await.unwrap(), 5);
    let err = kv.create("c", "again".into()).await.unwrap_err();
    assert_eq!(err.kind(), kv::CreateErrorKind::AlreadyExists);

    kv.delete("c").await.unwrap(); // rev 6: a delete marker
    assert!(kv.get("c").await.unwrap().is_none());
    let e = kv.entry("c").await.unwrap();
    assert!(e.is_none() || e.unwrap().operation == Operation::Delete);
    assert_eq!(kv.create("c", "c2".into()).await.unwrap(), 7);
    assert_eq!(kv.get("c").await.unwrap().unwrap(), "c2");

    kv.purge("a").await.unwrap(); // rev 8: purge marker, older revisions of a gone
    assert!(kv.get("a").await.unwrap().is_none());
    let history: Vec<kv::Entry> = kv.history("a").await.unwrap().try_collect().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].revision, history[0].operation),
        (8, Operation::Purge)
    );

    let stream = js.get_stream("KV_app").await.unwrap();
    let s = stream.get_info().await.unwrap().state;
    // b1 (3), c1 (5), c delete (6), c2 (7), a purge (8).
    assert_eq!((s.messages, s.last_sequence), (5, 8));
    let mut keys: Vec<String> = kv.keys().await.unwrap().try_collect().await.unwrap();
    keys.sort();
    assert_eq!(keys, vec!["b", "c"]);
}

#[tokio::test]
async fn history_keeps_at_most_the_configured_revisions() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let kv = bucket(&js, "hist", 5).await;
    for i in 1..=7 {
        kv.put("k", format!("v{i}").into()).await.unwrap();
    }
    kv.put("other", "x".into()).await.unwrap();
    let history: Vec<kv::Entry> = kv.history("k").await.unwrap().try_collect().await.unwrap();
    let revs: Vec<u64> = history.iter().map(|e| e.revision).collect();
    assert_eq!(revs, vec![3, 4, 5, 6, 7]);
    assert_eq!(history[0].value, "v3");
    assert_eq!(history[4].value, "v7");
    kv.delete("k").await.unwrap();
    let history: Vec<kv::Entry> = kv.history("k").await.unwrap().try_collect().await.unwrap();
    let ops: Vec<(u64, Operation)> = history.iter().map(|e| (e.revision, e.operation)).collect();
    assert_eq!(ops.last(), Some(&(9, Operation::Delete)));
    assert_eq!(ops.len(), 5);
    assert!(kv.entry_for_revision("k", 2).await.unwrap().is_none());
}

#[tokio::test]
async fn watch_and_watch_all() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let kv = bucket(&js, "w", 5).await;
    kv.put("a", "before".into()).await.unwrap();
    kv.put("b", "before".into()).await.unwrap();

    // watch(key) starts with the latest value of the key, then follows new puts.
    let mut watch = kv.watch_with_history("a").await.unwrap();
    let e = next_entry(&mut watch).await;
    assert_eq!(
        (e.key.as_str(), e.revision, e.value.as_ref()),
        ("a", 1, &b"before"[..])
    );
    let mut only_new = kv.watch("a").await.unwrap();
    let mut all = kv.watch_all().await.unwrap();

    kv.put("a", "after".into()).await.unwrap(); // rev 3
    kv.put("b", "after".into()).await.unwrap(); // rev 4
    kv.delete("a").await.unwrap(); // rev 5

    let e = next_entry(&mut watch).await;
    assert_eq!((e.revision, e.value.as_ref()), (3, &b"after"[..]));
    let e = next_entry(&mut watch).await;
    assert_eq!((e.revision, e.operation), (5, Operation::Delete));

    let e = next_entry(&mut only_new).await;
    assert_eq!((e.key.as_str(), e.revision), ("a", 3));
    let e = next_entry(&mut only_new).await;
    assert_eq!((e.revision, e.operation), (5, Operation::Delete));

    let got: Vec<(String, u64, Operation)> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let e = next_entry(&mut all).await;
            v.push((e.key, e.revision, e.operation));
        }
        v
    };
    assert_eq!(
        got,
        vec![
            ("a".into(), 3, Operation::Put),
            ("b".into(), 4, Operation::Put),
            ("a".into(), 5, Operation::Delete),
        ]
    );

    // watch_all with history replays the latest entry per key first, then follows.
    let mut replay = kv.watch_all_from_revision(1).await.unwrap();
    let first = next_entry(&mut replay).await;
    assert_eq!((first.key.as_str(), first.revision), ("a", 1));
    let mut seen = vec![first.revision];
    while seen.len() < 5 {
        seen.push(next_entry(&mut replay).await.revision);
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    kv.put("c", "new".into()).await.unwrap();
    let e = next_entry(&mut replay).await;
    assert_eq!((e.key.as_str(), e.revision), ("c", 6));

    // A watcher on wildcard keys.
    let mut many = kv.watch("b").await.unwrap();
    kv.put("b", "third".into()).await.unwrap();
    let e = next_entry(&mut many).await;
    assert_eq!(
        (e.key.as_str(), e.revision, e.value.as_ref()),
        ("b", 7, &b"third"[..])
    );
}

#[tokio::test]
async fn object_store_put_get_info_list_delete() {
    let server = JsServer::start();
    let (_nc, js) = js(&server).await;
    let store = js
        .create_object_store(object_store::Config {
            bucket: "files".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let info = store
        .put("big.bin", &mut data.as_slice())
        .await
        .expect("put object");
    assert_eq!(info.name, "big.bin");
    assert_eq!(info.size, 1_500_000);
    assert_eq!(info.chunks, 12); // 128 KiB chunks
    assert_eq!(info.bucket, "files");
    assert!(info.digest.as_deref().unwrap_or("").starts_with("SHA-256="));

    let mut object = store.get("big.bin").await.unwrap();
    let mut back = Vec::new();
    object.read_to_end(&mut back).await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "object bytes differ");

    let small = b"hello object".to_vec();
    store.put("small.txt", &mut small.as_slice()).await.unwrap();
    let i = store.info("small.txt").await.unwrap();
    assert_eq!((i.size, i.chunks), (12, 1));
    let mut names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .map_ok(|i| i.name)
        .try_collect()
        .await
        .unwrap();
    names.sort();
    assert_eq!(names, vec!["big.bin", "small.txt"]);

    let stream = js.get_stream("OBJ_files").await.unwrap();
    let s = stream.get_info().await.unwrap().state;
    assert_eq!(s.messages, 12 + 1 + 1 + 1); // chunks + two meta messages
    store.delete("big.bin").await.unwrap();
    assert!(store.get("big.bin").await.is_err());
    // The meta message stays, marked deleted, with no chunks.
    let gone = store.info("big.bin").await.unwrap();
    assert!(gone.deleted);
    assert_eq!((gone.size, gone.chunks), (0, 0));
    let names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .map_ok(|i| i.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(names, vec!["small.txt"]);
    // The chunks are purged; only the two meta messages and small's chunk remain.
    let s = stream.get_info().await.unwrap().state;
    assert_eq!(s.messages, 3);

    // Replacing an object purges the old chunks.
    let replaced = b"replaced".to_vec();
    store
        .put("small.txt", &mut replaced.as_slice())
        .await
        .unwrap();
    let mut back = Vec::new();
    store
        .get("small.txt")
        .await
        .unwrap()
        .read_to_end(&mut back)
        .await
        .unwrap();
    assert_eq!(back, replaced);
    assert_eq!(stream.get_info().await.unwrap().state.messages, 3);
}
