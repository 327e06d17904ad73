//! Tests of the configuration file: parsing, defaults and validation.

use super::auth::is_valid_subject;
use super::*;

fn ok(toml: &str) -> Config {
    Config::from_toml_str(toml).unwrap_or_else(|e| panic!("{toml:?}: {e}"))
}

fn err(toml: &str) -> String {
    let e = Config::from_toml_str(toml).err().map(|e| e.to_string());
    let e = e.unwrap_or_else(|| panic!("expected an error for {toml:?}"));
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

const SECS: fn(u64) -> Duration = Duration::from_secs;

#[test]
#[rustfmt::skip]
fn empty_file_gives_nats_server_defaults() {
    let c = ok("");
    let n = &c.nats;
    assert_eq!((n.host.as_str(), n.port, n.max_payload), ("0.0.0.0", 4222, 1 << 20));
    assert_eq!((n.max_control_line, n.max_pending), (4096, 64 << 20));
    assert_eq!((n.max_connections, n.max_subscriptions, n.max_pings_out), (65536, 0, 2));
    assert_eq!((n.write_deadline, n.ping_interval, n.auth_timeout), (SECS(10), SECS(120), SECS(2)));
    assert_eq!((c.monitor, c.jetstream.enabled), (None, false));
    assert_eq!(c.jetstream.store_dir, std::env::temp_dir().join("sluice"));
    assert_eq!(c.jetstream.sync_interval, Some(SECS(120)));
    assert_eq!(ok("[jetstream]\nsync_interval = \"always\"").jetstream.sync_interval, None);
    assert_eq!(ok("[jetstream]\nsync_interval = \"5s\"").jetstream.sync_interval, Some(SECS(5)));
    assert_eq!((c.auth, c.logging), Default::default());
    assert!(c.server_name.starts_with("sluice-") && c.server_name.len() == 19);
    let d = Config::default();
    assert_ne!(d.server_name, c.server_name, "names are generated per config");
    assert_eq!(ok(&format!("server_name = \"{}\"", d.server_name)), d);
}

#[test]
#[rustfmt::skip]
fn ports_follow_nats_server() {
    let c = ok("[nats]\nport = -1\n[monitor]\nport = -1");
    assert_eq!(c.nats.port, 0, "-1 = random, stored as 0");
    assert_eq!(c.monitor.map(|m| (m.host, m.port)), Some(("0.0.0.0".into(), 0)));
    let c = ok("[nats]\nport = 0\nhost = \"::1\"\n[monitor]\nport = 8000");
    assert_eq!(c.nats.port, 4222, "0 = default, as in nats-server");
    assert_eq!(c.monitor.map(|m| m.host), Some("::1".into()), "binds with the client host");
    for off in ["", "[monitor]\nhost = \"1.2.3.4\"", "[monitor]\nport = 0"] {
        assert_eq!(ok(off).monitor, None, "{off}");
    }
}

#[test]
#[rustfmt::skip]
fn api_is_on_by_default_and_follows_the_client_host() {
    let api = |toml: &str| ok(toml).api.map(|a| (a.host, a.port));
    assert_eq!(api(""), Some(("0.0.0.0".into(), 8080)));
    assert_eq!(api("[nats]\nhost = \"::1\""), Some(("::1".into(), 8080)));
    assert_eq!(api("[api]\nport = -1"), Some(("0.0.0.0".into(), 0)), "-1 = random");
    assert_eq!(api("[api]\nhost = \"127.0.0.2\"\nport = 9000"), Some(("127.0.0.2".into(), 9000)));
    assert_eq!(api("[api]\nport = 0"), None, "0 = off");
}

#[test]
#[rustfmt::skip]
fn sizes_use_nats_server_units() {
    for (s, n) in [("0", 0), ("12", 12), ("3b", 3), ("1k", 1000), ("1KB", 1024), ("64KiB", 65536),
        ("1M", 1_000_000), ("1mb", 1 << 20), (" 2 MiB ", 2 << 20), ("1G", 1_000_000_000), ("1GB", 1 << 30)]
    {
        assert_eq!(parse_size(s), Ok(n), "{s}");
    }
    for s in ["", "MB", "1.5MB", "-1", "12XB", "1 M B", "99999999999999TB"] {
        assert!(parse_size(s).is_err(), "{s}");
    }
}

#[test]
#[rustfmt::skip]
fn subjects_follow_the_nats_rules() {
    for good in ["a", "a.b", "a.*", "*", ">", "a.>", "a.*.c", "_INBOX.>", "$JS.API.>"] {
        assert!(is_valid_subject(good), "{good}");
    }
    for bad in ["", "a..b", ".a", "a.", "a b", "a.>.b", "fo*", "a.b>", ">.a", "a\tb"] {
        assert!(!is_valid_subject(bad), "{bad}");
    }
}

#[test]
#[rustfmt::skip]
fn each_validation_error_names_its_key() {
    let user = |more: &str| format!("[[auth.users]]\nuser = \"a\"\npassword = \"b\"\n{more}\n");
    let perms = |more: &str| user(&format!("[auth.users.permissions]\n{more}"));
    let cases = [
        ("[nats]\nport = 70000".to_string(), "nats.port: must be -1..=65535"),
        ("[nats]\nport = -2".into(), "nats.port: must be -1..=65535"),
        ("[monitor]\nport = 65536".into(), "monitor.port: must be -1..=65535"),
        ("[api]\nport = -2".into(), "api.port: must be -1..=65535"),
        ("[api]\nhost = \"\"".into(), "api.host: must not be empty or contain whitespace"),
        ("[nats]\nmax_payload = \"65MiB\"\nmax_pending = \"1GiB\"".into(), "nats.max_payload: must be at most 67108864 (64 MiB)"),
        ("[nats]\nmax_payload = 2048\nmax_pending = 1024".into(), "nats.max_payload: must not exceed nats.max_pending (1024)"),
        ("[nats]\nmax_payload = 0".into(), "nats.max_payload: must be greater than 0"),
        ("[nats]\nmax_pending = 0".into(), "nats.max_pending: must be greater than 0"),
        ("[nats]\nmax_control_line = \"0KB\"".into(), "nats.max_control_line: must be greater than 0"),
        ("[nats]\nmax_connections = 0".into(), "nats.max_connections: must be greater than 0"),
        ("[nats]\nmax_pings_out = 0".into(), "nats.max_pings_out: must be greater than 0"),
        ("[nats]\nwrite_deadline = \"0s\"".into(), "nats.write_deadline: must be greater than 0"),
        ("[nats]\nping_interval = 0".into(), "nats.ping_interval: must be greater than 0"),
        ("[nats]\nauth_timeout = \"0ms\"".into(), "nats.auth_timeout: must be greater than 0"),
        ("[nats]\nwrite_deadline = \"10 parsecs\"".into(), "nats.write_deadline: invalid duration \"10 parsecs\""),
        ("[nats]\nmax_payload = \"12XB\"".into(), "nats.max_payload: invalid size \"12XB\""),
        ("[nats]\nhost = \"\"".into(), "nats.host: must not be empty or contain whitespace"),
        ("[monitor]\nhost = \"a b\"".into(), "monitor.host: must not be empty or contain whitespace"),
        ("server_name = \"a b\"".into(), "server_name: must not be empty or contain spaces"),
        ("[jetstream]\nstore_dir = \"\"".into(), "jetstream.store_dir: must not be empty"),
        ("[jetstream]\nsync_interval = \"soon\"".into(), "jetstream.sync_interval: must be \"always\" or a duration such as \"2m\" or \"500ms\""),
        ("[jetstream]\nsync_interval = \"0s\"".into(), "jetstream.sync_interval: must be \"always\" or a duration such as \"2m\" or \"500ms\""),
        (format!("[auth]\ntoken = \"t\"\n{}", user("")), "auth: set either token or users, not both"),
        ("[auth]\ntoken = \"\"".into(), "auth.token: must not be empty"),
        (user("") + &user(""), "auth.users[1].user: duplicate user \"a\""),
        ("[[auth.users]]\nuser = \"a\"".into(), "auth.users[0].password: required"),
        ("[[auth.users]]\npassword = \"a\"".into(), "auth.users[0].user: required"),
        ("[[auth.users]]\nuser = \"\"\npassword = \"a\"".into(), "auth.users[0].user: must not be empty"),
        ("[[auth.users]]\nuser = \"a b\"\npassword = \"a\"".into(), "auth.users[0].user: must not contain whitespace"),
        ("[[auth.users]]\nuser = \"a\"\npassword = \"\"".into(), "auth.users[0].password: must not be empty"),
        ("[[auth.users]]\nuser = \"a\"\npassword = \"$2a$11$short\"".into(), "auth.users[0].password: malformed bcrypt hash"),
        (perms("publish = [\"a\", \"b\", \"a..b\"]"), "auth.users[0].permissions.publish.allow[2]: invalid subject \"a..b\""),
        (perms("subscribe = { deny = [\"a.>.b\"] }"), "auth.users[0].permissions.subscribe.deny[0]: invalid subject \"a.>.b\""),
        ("[auth.default_permissions]\npublish = \"a b\"".into(), "auth.default_permissions.publish.allow[0]: invalid subject \"a b\""),
        ("[auth.default_permissions]\nallow_responses = { expires = \"soon\" }".into(), "auth.default_permissions.allow_responses.expires: invalid duration \"soon\""),
        ("[api]\nrate_limit = { burst = 5 }".into(), "api.rate_limit.requests_per_second: required"),
        ("[api]\nrate_limit = { requests_per_second = 0 }".into(), "api.rate_limit.requests_per_second: must be greater than 0 and at most 1000000"),
        ("[api]\nrate_limit = { requests_per_second = -1.5 }".into(), "api.rate_limit.requests_per_second: must be greater than 0"),
        ("[api]\nrate_limit = { requests_per_second = nan }".into(), "api.rate_limit.requests_per_second: must be greater than 0"),
        ("[api]\nrate_limit = { requests_per_second = 1e7 }".into(), "api.rate_limit.requests_per_second: must be greater than 0 and at most 1000000"),
        ("[api]\nrate_limit = { requests_per_second = 5, burst = 0 }".into(), "api.rate_limit.burst: must be greater than 0"),
        ("[websocket]\nrate_limit = { requests_per_second = 0.0 }".into(), "websocket.rate_limit.requests_per_second: must be greater than 0"),
        ("[websocket]\nmax_frame_size = 0".into(), "websocket.max_frame_size: must be greater than 0"),
        ("[websocket]\nmax_message_size = \"0KB\"".into(), "websocket.max_message_size: must be greater than 0"),
        ("[websocket]\nmax_message_size = \"1GB\"".into(), "websocket.max_message_size: must be at most 134283264"),
        ("[websocket]\nmax_frame_size = \"2MB\"\nmax_message_size = \"1MB\"".into(), "websocket.max_frame_size: must not exceed websocket.max_message_size (1048576)"),
        ("[websocket]\nmax_frame_size = \"lots\"".into(), "websocket.max_frame_size: invalid size \"lots\""),
    ];
    for (toml, want) in cases {
        let e = err(&toml);
        assert!(e.contains(want), "{toml:?}\n  gave: {e}\n  want: {want}");
    }
}

#[test]
fn all_problems_are_reported_together() {
    let e = err("[nats]\nport = 70000\nmax_pings_out = 0\n[auth]\ntoken = \"\"\n");
    let want = "nats.port: must be -1..=65535; nats.max_pings_out: must be greater than 0; \
                auth.token: must not be empty";
    assert_eq!(e, want);
}

#[test]
#[rustfmt::skip]
fn unknown_keys_and_bad_types_name_the_key_and_line() {
    let cases = [
        ("[nats]\nprot = 1", "config: line 2, column 1: unknown field `prot`, expected one of `host`"),
        ("colour = 1", "config: line 1, column 1: unknown field `colour`"),
        ("[api]\nprot = 1", "config: line 2, column 1: unknown field `prot`, expected one of `host`, `port`, `tls`"),
        ("[logging]\nlevel = \"x\"", "line 2, column 1: unknown field `level`"),
        ("[[auth.users]]\nuser = \"a\"\nsecret = 1", "line 3, column 1: unknown field `secret`"),
        ("[auth.default_permissions]\npublish = { allw = [] }", "line 2, column 11: auth.default_permissions.publish: expected a subject"),
        ("[auth.default_permissions]\nallow_responses = { ttl = 2 }", "auth.default_permissions.allow_responses: expected true, false, or a table"),
        ("[nats]\nport = \"x\"", "line 2, column 8: nats.port: invalid type: string \"x\", expected i64"),
        ("[nats]\nping_interval = true", "nats.ping_interval: invalid duration: expected integer seconds"),
        ("[nats]\nmax_payload = -5", "nats.max_payload: invalid size: expected integer bytes"),
        ("[api]\nmax_connections_per_ip = -1", "api.max_connections_per_ip: invalid value: integer `-1`, expected u64"),
        ("[websocket]\nmax_connections_per_ip = \"10\"", "websocket.max_connections_per_ip: invalid type: string \"10\", expected u64"),
        ("[api]\nrate_limit = { rps = 1 }", "unknown field `rps`, expected `requests_per_second` or `burst`"),
        ("[api]\nrate_limit = { requests_per_second = 1, burst = -2 }", "invalid value: integer `-2`, expected u32"),
        ("[nats\nport = 1", "config: line 1"),
    ];
    for (toml, want) in cases {
        let e = err(toml);
        assert!(e.contains(want), "{toml:?}\n  gave: {e}\n  want: {want}");
    }
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let c = ok("[auth]\ntoken = \"s3cret\"");
    let u = ok("[[auth.users]]\nuser = \"a\"\npassword = \"hunter2\"");
    let shown = format!("{c:?} {u:?}");
    assert!(
        !shown.contains("s3cret") && !shown.contains("hunter2"),
        "{shown}"
    );
    assert!(shown.contains("<redacted>"));
}

#[test]
fn upstream_mode_is_configured_and_checked() {
    assert_eq!(ok("").upstream, None);
    let c = ok(r#"
        server_name = "gw-1"
        [upstream]
        servers = ["nats://a:4222", "tls://b:4443"]
        user = "gw"
        password = "pw"
        max_buffer = "8MB"
        tls = { ca_file = "ca.pem", cert_file = "c.pem", key_file = "k.pem" }
    "#);
    let up = c.upstream.expect("upstream mode");
    assert_eq!(up.servers, ["nats://a:4222", "tls://b:4443"]);
    assert_eq!((up.name.as_str(), up.max_buffer), ("gw-1", 8 << 20));
    assert_eq!(up.user, Some(("gw".into(), "pw".into())));
    assert_eq!(up.tls.ca_file, Some("ca.pem".into()));

    let e = err("[upstream]\nservers = [\"nats://a:1\"]\n[jetstream]\nenabled = true");
    assert!(e.contains("jetstream.enabled"), "{e}");
    let e = err("[upstream]\nservers = [\"http://a:1\"]");
    assert!(
        e.contains("upstream.servers[0]") && e.contains("scheme"),
        "{e}"
    );
    let e = err("[upstream]\nname = \"x\"");
    assert!(e.contains("upstream.servers: required"), "{e}");
    let e = err("[upstream]\nservers = [\"a\"]\ntoken = \"t\"\nuser = \"u\"\npassword = \"p\"");
    assert!(e.contains("exclusive"), "{e}");
    let e = err("[upstream]\nservers = [\"a\"]\nuser = \"u\"");
    assert!(e.contains("together"), "{e}");
}

#[test]
fn websocket_compression_is_off_unless_asked_for() {
    assert!(!ok("").websocket.compression);
    assert!(!ok("[websocket]\nport = -1").websocket.compression);
    let c = ok("[websocket]\ncompression = true");
    assert!(
        c.websocket.compression,
        "also applies to /nats without a listener"
    );
    assert_eq!(c.websocket.listener, None);
    assert!(err("[websocket]\ncompression = \"yes\"").contains("compression"));
}

#[test]
fn tls_is_configured_and_checked() {
    assert_eq!(ok("").nats.tls, None);
    let c = ok("[nats.tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"");
    let tls = c.nats.tls.expect("tls on");
    assert_eq!(
        (tls.verify, tls.verify_and_map, tls.timeout),
        (false, false, SECS(2))
    );
    let c = ok(r#"
        [nats.tls]
        cert_file = "c.pem"
        key_file = "k.pem"
        ca_file = "ca.pem"
        verify_and_map = true
        [[auth.users]]
        user = "CN=alice,O=Acme"
    "#);
    let tls = c.nats.tls.expect("tls on");
    assert!(
        tls.verify && tls.verify_and_map,
        "verify_and_map implies verify"
    );
    assert_eq!(
        c.auth.users[0].password, "",
        "no password with certificate users"
    );

    let e = err("[nats.tls]\ncert_file = \"c.pem\"");
    assert!(e.contains("cert_file and key_file"), "{e}");
    let e = err("[nats.tls]\ncert_file = \"c\"\nkey_file = \"k\"\nverify = true");
    assert!(e.contains("nats.tls.ca_file"), "{e}");
    // Without certificate mapping a user still needs a password.
    let e = err("[[auth.users]]\nuser = \"bob\"");
    assert!(e.contains("password: required"), "{e}");
}

#[test]
fn nkey_users_are_configured_and_checked() {
    let key = nkeys::KeyPair::new_user();
    let public = key.public_key();
    let c = ok(&format!(
        r#"
        [[auth.users]]
        nkey = "{public}"
        admin = true
        permissions = {{ publish = "nk.>" }}
        [[auth.users]]
        user = "bob"
        password = "pw"
        "#
    ));
    assert_eq!(c.auth.users.len(), 1, "the password user");
    let nk = &c.auth.nkeys[0];
    assert_eq!((nk.nkey.as_str(), nk.admin), (public.as_str(), true));
    let perms = nk.permissions.as_ref().expect("its own permissions");
    assert_eq!(perms.publish.allow, ["nk.>"]);

    let entry = |body: &str| format!("[[auth.users]]\n{body}\n");
    let nkey = |k: &str| entry(&format!("nkey = \"{k}\""));
    let seed = key.seed().expect("a new key has a seed");
    let account = nkeys::KeyPair::new_account().public_key();
    let mut flipped = public.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    #[rustfmt::skip]
    let cases = [
        (nkey("UABC"), "auth.users[0].nkey: not a valid user public nkey"),
        (nkey(&flipped), "auth.users[0].nkey: not a valid user public nkey"),
        (nkey(&account), "auth.users[0].nkey: not a user nkey"),
        (nkey(&seed), "auth.users[0].nkey: is a seed (a private key)"),
        (nkey(&public) + &nkey(&public), &format!("auth.users[1].nkey: duplicate nkey \"{public}\"")),
        (entry(&format!("user = \"{public}\"\npassword = \"p\"")) + &nkey(&public), "auth.users[1].nkey: duplicate nkey"),
        (entry(&format!("nkey = \"{public}\"\npassword = \"p\"")), "auth.users[0].password: not allowed with nkey"),
        (entry(&format!("nkey = \"{public}\"\nuser = \"u\"")), "auth.users[0].user: not allowed with nkey"),
        (format!("[auth]\ntoken = \"t\"\n{}", nkey(&public)), "auth: set either token or users, not both"),
        (entry(&format!("nkey = \"{public}\"\npermissions = {{ publish = \"a..b\" }}")), "auth.users[0].permissions.publish.allow[0]: invalid subject"),
    ];
    for (toml, want) in cases {
        let e = err(&toml);
        assert!(e.contains(want), "{toml:?}\n  gave: {e}\n  want: {want}");
        assert!(!e.contains(&seed), "a seed is never echoed: {e}");
    }
}

#[test]
#[rustfmt::skip]
fn http_limits_are_off_unless_configured() {
    let c = ok("");
    let api = c.api.expect("api on");
    assert_eq!((api.max_connections_per_ip, api.rate_limit), (0, None));
    let ws = &c.websocket;
    assert_eq!((ws.max_connections_per_ip, ws.rate_limit), (0, None));
    // Twice max_payload plus 64 KiB: a largest message as base64 in a JSON frame.
    assert_eq!((ws.max_frame_size, ws.max_message_size), ((2 << 20) + 65536, (2 << 20) + 65536));
    let small = ok("[nats]\nmax_payload = 1000").websocket;
    assert_eq!(small.max_message_size, 2000 + 65536, "follows max_payload");
}

#[test]
#[rustfmt::skip]
fn http_limits_are_read() {
    let c = ok(r#"
        [api]
        max_connections_per_ip = 8
        rate_limit = { requests_per_second = 2.5, burst = 10 }
        [websocket]
        max_connections_per_ip = 4
        max_message_size = "256KiB"
        rate_limit = { requests_per_second = 3 }
    "#);
    let api = c.api.expect("api on");
    assert_eq!(api.max_connections_per_ip, 8);
    assert_eq!(api.rate_limit, Some(RateLimit { requests_per_second: 2.5, burst: 10 }));
    let ws = c.websocket;
    assert_eq!(ws.max_connections_per_ip, 4);
    assert_eq!(ws.rate_limit, Some(RateLimit { requests_per_second: 3.0, burst: 3 }), "a second's worth");
    assert_eq!((ws.max_frame_size, ws.max_message_size), (256 << 10, 256 << 10), "frames up to the message size");
    let tiny = ok("[api]\nrate_limit = { requests_per_second = 0.1 }").api.and_then(|a| a.rate_limit);
    assert_eq!(tiny.map(|r| r.burst), Some(1), "at least one request");
}
