//! What changed between two configurations: the keys a reload cannot apply while the server
//! runs (listeners, storage, upstream), and lines naming what it did apply, for the log.
//!
//! nats-server refuses a whole reload when an option it cannot change live differs
//! (`config reload not supported for ...`), and logs `Reloaded: <option>` for each one it
//! applied; both lists follow that, with our configuration keys.

use std::fmt::Debug;

use crate::config::Config;

/// Keys that differ but cannot change without a restart, each as
/// `key` or `key: old=<v>, new=<v>` (values only where they hold no secret).
pub fn fixed_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    // Scalars, compared by how they print (all print every bit of their value).
    let mut value = |key: &str, a: &dyn Debug, b: &dyn Debug| {
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        if a != b {
            out.push(format!("{key}: old={a}, new={b}"));
        }
    };
    value("server_name", &old.server_name, &new.server_name);
    let (o, n) = (&old.nats, &new.nats);
    value("nats.host", &o.host, &n.host);
    value("nats.port", &o.port, &n.port);
    // Certificates and their settings reload; turning TLS on or off would change what the
    // port speaks under clients that are connected.
    value("nats.tls", &o.tls.is_some(), &n.tls.is_some());
    let (j, k) = (&old.jetstream, &new.jetstream);
    value("jetstream.enabled", &j.enabled, &k.enabled);
    value("jetstream.store_dir", &j.store_dir, &k.store_dir);
    let (p, q) = (&old.logging, &new.logging);
    value("logging.pid_file", &p.pid_file, &q.pid_file);
    value("logging.log_file", &p.log_file, &q.log_file);
    let (p, q) = (&old.plugins, &new.plugins);
    value("plugins.dir", &p.dir, &q.dir);
    // Whole tables: values may hold credentials, so only the key is named.
    let tables = [
        ("monitor", old.monitor == new.monitor),
        // Frame and message sizes are read at each upgrade (and follow max_payload by
        // default), so they reload; the rest of the table is fixed.
        ("websocket", same_websocket_listeners(old, new)),
        ("api", old.api == new.api),
        ("upstream", old.upstream == new.upstream),
        (
            "jetstream.sync_interval",
            j.sync_interval == k.sync_interval,
        ),
        // Default limits are compiled into every loaded plugin's instances.
        ("plugins.deadline", p.deadline == q.deadline),
        ("plugins.memory", p.memory == q.memory),
        ("plugins.max_emit", p.max_emit == q.max_emit),
    ];
    out.extend(
        tables
            .iter()
            .filter(|(_, same)| !same)
            .map(|(key, _)| (*key).to_string()),
    );
    out
}

/// `[websocket]` without the sizes each upgrade reads from the configuration in force.
fn same_websocket_listeners(old: &Config, new: &Config) -> bool {
    let sizes = |c: &Config| {
        let mut ws = c.websocket.clone();
        (ws.max_frame_size, ws.max_message_size) = (0, 0);
        ws
    };
    sizes(old) == sizes(new)
}

/// One line per applied change, as nats-server logs `Reloaded: ...` (no secrets).
pub fn applied_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut value = |key: &str, a: &dyn Debug, b: &dyn Debug| {
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        if a != b {
            out.push(format!("{key} = {b} (was {a})"));
        }
    };
    let (o, n) = (&old.nats, &new.nats);
    value("nats.max_payload", &o.max_payload, &n.max_payload);
    value(
        "nats.max_control_line",
        &o.max_control_line,
        &n.max_control_line,
    );
    value("nats.max_pending", &o.max_pending, &n.max_pending);
    value(
        "nats.max_connections",
        &o.max_connections,
        &n.max_connections,
    );
    value(
        "nats.max_subscriptions",
        &o.max_subscriptions,
        &n.max_subscriptions,
    );
    value("nats.write_deadline", &o.write_deadline, &n.write_deadline);
    value("nats.ping_interval", &o.ping_interval, &n.ping_interval);
    value("nats.max_pings_out", &o.max_pings_out, &n.max_pings_out);
    value("nats.auth_timeout", &o.auth_timeout, &n.auth_timeout);
    value(
        "nats.lame_duck_duration",
        &o.lame_duck_duration,
        &n.lame_duck_duration,
    );
    value(
        "nats.lame_duck_grace_period",
        &o.lame_duck_grace_period,
        &n.lame_duck_grace_period,
    );
    value(
        "nats.no_fast_producer_stall",
        &o.no_fast_producer_stall,
        &n.no_fast_producer_stall,
    );
    let (w, x) = (&old.websocket, &new.websocket);
    value(
        "websocket.max_frame_size",
        &w.max_frame_size,
        &x.max_frame_size,
    );
    value(
        "websocket.max_message_size",
        &w.max_message_size,
        &x.max_message_size,
    );
    let (p, q) = (&old.logging, &new.logging);
    value("logging.debug", &p.debug, &q.debug);
    value("logging.trace", &p.trace, &q.trace);
    let (p, q) = (&old.plugins, &new.plugins);
    value("plugins.max_size", &p.max_size, &q.max_size);
    if o.tls.is_some() && o.tls != n.tls {
        out.push("nats.tls".to_string());
    }
    let (a, b) = (&old.auth, &new.auth);
    if a.token != b.token {
        out.push("authorization token".to_string());
    }
    if a.users != b.users || a.nkeys != b.nkeys || a.default_permissions != b.default_permissions {
        out.push("authorization users".to_string());
    }
    if p.preload != q.preload {
        out.push("plugins.preload".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> Config {
        Config::from_toml_str(&format!("server_name = \"s\"\n{toml}")).expect("valid")
    }

    #[test]
    fn listeners_and_storage_are_fixed_limits_and_auth_are_not() {
        let old = config("[nats]\nport = 4222\nmax_payload = 1024\n");
        let new =
            config("[nats]\nport = 4333\nmax_payload = 2048\n[jetstream]\nstore_dir = \"/x\"\n");
        let fixed = fixed_changes(&old, &new);
        assert!(
            fixed.iter().any(|k| k == "nats.port: old=4222, new=4333"),
            "{fixed:?}"
        );
        assert!(
            fixed.iter().any(|k| k.starts_with("jetstream.store_dir")),
            "{fixed:?}"
        );
        assert_eq!(fixed.len(), 2, "{fixed:?}");
        let applied = applied_changes(&old, &new);
        assert_eq!(
            applied,
            [
                "nats.max_payload = 2048 (was 1024)",
                // The WebSocket sizes follow max_payload by default.
                "websocket.max_frame_size = 69632 (was 67584)",
                "websocket.max_message_size = 69632 (was 67584)",
            ]
        );
        let users = config(
            "[nats]\nport = 4222\nmax_payload = 1024\n[[auth.users]]\nuser = \"a\"\npassword = \"secret-pw\"\n",
        );
        assert!(fixed_changes(&old, &users).is_empty());
        let applied = applied_changes(&old, &users);
        assert_eq!(applied, ["authorization users"]);
        assert!(!format!("{applied:?}").contains("secret-pw"));
    }

    #[test]
    fn whole_tables_are_named_without_their_values() {
        let old = config("");
        let new = config("[upstream]\nservers = [\"nats://u:hunter2@h:4222\"]\n");
        let fixed = fixed_changes(&old, &new);
        assert_eq!(fixed, ["upstream"]);
    }
}
