//! The `[auth]` table: a shared token, or users with passwords or nkeys, and the subject
//! permissions users get, validated into [`AuthConfig`].

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::{DurationFile, Problems, RESPONSE_EXPIRES, RESPONSE_MAX, us};

/// Client authentication: a single shared token, or a list of users (never both).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AuthConfig {
    /// Token every client must present in CONNECT `auth_token`.
    pub token: Option<String>,
    /// Users with their passwords and optional permissions.
    pub users: Vec<UserConfig>,
    /// Users that prove who they are by signing the INFO nonce with an nkey (`[[auth.users]]`
    /// entries with `nkey`); kept apart from `users` because they have no name or password.
    pub nkeys: Vec<NkeyUserConfig>,
    /// Permissions for users that have none of their own.
    pub default_permissions: Option<Permissions>,
}

impl fmt::Debug for AuthConfig {
    // Keeps the token out of logs that print the config.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("users", &self.users)
            .field("nkeys", &self.nkeys)
            .field("default_permissions", &self.default_permissions)
            .finish()
    }
}

/// One user allowed to connect.
#[derive(Clone, PartialEq, Eq)]
pub struct UserConfig {
    /// Name sent in CONNECT `user`.
    pub user: String,
    /// Plain text, or a bcrypt hash when it starts with `$2a$`, `$2b$` or `$2y$`.
    pub password: String,
    /// This user's permissions; `None` falls back to `default_permissions`.
    pub permissions: Option<Permissions>,
    /// May manage plugins (`/v1/plugins`, `sluice plugin ...`).
    pub admin: bool,
}

impl fmt::Debug for UserConfig {
    // Keeps passwords out of logs that print the config.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("permissions", &self.permissions)
            .field("admin", &self.admin)
            .finish()
    }
}

/// A user identified by an nkey, as nats-server's `users = [{nkey: U..., permissions}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NkeyUserConfig {
    /// The user's public nkey (`U...`, 56 characters); it is also the user's name.
    pub nkey: String,
    /// This user's permissions; `None` falls back to `default_permissions`.
    pub permissions: Option<Permissions>,
    /// May manage plugins (over the NATS protocol only: HTTP cannot sign a nonce).
    pub admin: bool,
}

/// What a user may publish and subscribe to, as in nats-server's `permissions` block.
///
/// As in nats-server, when `allow_responses` is set and `publish.allow` is empty the server
/// should allow publishing only to reply subjects, not everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permissions {
    /// Subjects the user may publish to.
    pub publish: SubjectRule,
    /// Subjects the user may subscribe to.
    pub subscribe: SubjectRule,
    /// Lets the user publish to reply subjects of requests it received.
    pub allow_responses: Option<ResponsePermission>,
}

/// An allow list and a deny list of subjects (wildcards allowed); deny wins over allow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubjectRule {
    /// Subjects allowed; empty means everything is allowed (nats-server semantics).
    pub allow: Vec<String>,
    /// Subjects denied even when allowed.
    pub deny: Vec<String>,
}

/// How many replies a responder may send to one request, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Replies allowed per request; 0 means unlimited.
    pub max: usize,
    /// How long after the request replies are allowed; zero means no time limit.
    pub expires: Duration,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AuthFile {
    pub(crate) token: Option<String>,
    pub(crate) users: Vec<UserFile>,
    default_permissions: Option<PermissionsFile>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct UserFile {
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) nkey: Option<String>,
    pub(crate) permissions: Option<PermissionsFile>,
    pub(crate) admin: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PermissionsFile {
    #[serde(alias = "pub")]
    publish: RuleFile,
    #[serde(alias = "sub")]
    subscribe: RuleFile,
    allow_responses: Option<ResponsesFile>,
}

/// A subject rule: a table `{ allow, deny }`, a plain list (the allow list) or one subject.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "expected a subject, a list of subjects, or a table of `allow`, `deny`"
)]
enum RuleFile {
    One(String),
    List(Vec<String>),
    Table(RuleTable),
}

impl Default for RuleFile {
    fn default() -> Self {
        RuleFile::List(Vec::new())
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RuleTable {
    allow: Vec<String>,
    deny: Vec<String>,
}

/// `allow_responses`: `true`/`false`, or a table `{ max, expires }`.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "expected true, false, or a table of `max`, `expires`"
)]
enum ResponsesFile {
    Flag(bool),
    Table(ResponsesTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponsesTable {
    max: Option<u64>,
    expires: Option<DurationFile>,
}

/// `certificate_users`: TLS maps client certificates to users, so passwords are optional.
pub(super) fn build(p: &mut Problems, f: AuthFile, certificate_users: bool) -> AuthConfig {
    // One namespace for names and nkeys, as nats-server: a name cannot shadow a key.
    let mut seen = HashSet::new();
    let mut users = Vec::with_capacity(f.users.len());
    let mut nkeys = Vec::new();
    for (i, u) in f.users.into_iter().enumerate() {
        let key = format!("auth.users[{i}]");
        let permissions =
            (u.permissions).map(|f| build_permissions(p, &format!("{key}.permissions"), f));
        let admin = u.admin.unwrap_or(false);
        if let Some(nkey) = u.nkey {
            for (field, given) in [
                ("user", u.user.is_some()),
                ("password", u.password.is_some()),
            ] {
                if given {
                    p.add(&format!("{key}.{field}"), "not allowed with nkey");
                }
            }
            let nkey_key = format!("{key}.nkey");
            if let Err(problem) = check_user_nkey(&nkey) {
                p.add(&nkey_key, problem);
            } else if !seen.insert(nkey.clone()) {
                p.add(&nkey_key, format!("duplicate nkey \"{nkey}\""));
            }
            nkeys.push(NkeyUserConfig {
                nkey,
                permissions,
                admin,
            });
            continue;
        }
        let user_key = format!("{key}.user");
        let user = p.required(&user_key, u.user);
        if user.contains(char::is_whitespace) {
            p.add(&user_key, "must not contain whitespace");
        } else if !user.is_empty() && !seen.insert(user.clone()) {
            p.add(&user_key, format!("duplicate user \"{user}\""));
        }
        let password_key = format!("{key}.password");
        // With certificates mapped to users (verify_and_map) the certificate is the
        // credential; a password is then optional.
        let password = match (u.password, certificate_users) {
            (None, true) => String::new(),
            (pw, _) => p.required(&password_key, pw),
        };
        check_password(p, &password_key, &password);
        users.push(UserConfig {
            user,
            password,
            permissions,
            admin,
        });
    }
    if f.token.as_deref() == Some("") {
        p.add("auth.token", "must not be empty");
    }
    if f.token.is_some() && !(users.is_empty() && nkeys.is_empty()) {
        p.add("auth", "set either token or users, not both");
    }
    AuthConfig {
        token: f.token,
        users,
        nkeys,
        default_permissions: f
            .default_permissions
            .map(|f| build_permissions(p, "auth.default_permissions", f)),
    }
}

/// nats-server's `IsValidPublicUserKey`: a public key (checksum included) of the user type.
/// The value is echoed in no message, since a pasted seed is a secret.
fn check_user_nkey(nkey: &str) -> Result<(), &'static str> {
    match nkeys::KeyPair::from_public_key(nkey) {
        Ok(kp) if kp.key_pair_type() == nkeys::KeyPairType::User => Ok(()),
        Ok(_) => Err("not a user nkey (a user public key starts with U)"),
        Err(_) if nkeys::decode_seed(nkey).is_ok() => {
            Err("is a seed (a private key); configure its public key (U..., 56 characters)")
        }
        Err(_) => Err("not a valid user public nkey (U..., 56 characters)"),
    }
}

fn check_password(p: &mut Problems, key: &str, password: &str) {
    if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|pre| password.starts_with(pre))
        && !is_bcrypt_hash(password)
    {
        // Never echo the password itself.
        p.add(
            key,
            "malformed bcrypt hash (want $2b$<cost>$ and 53 characters)",
        );
    }
}

fn is_bcrypt_hash(s: &str) -> bool {
    let b = s.as_bytes();
    let cost = s.get(4..6).and_then(|c| c.parse::<u32>().ok());
    b.len() == 60
        && b[6] == b'$'
        && cost.is_some_and(|c| (4..=31).contains(&c))
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"./".contains(c))
}

fn build_permissions(p: &mut Problems, key: &str, f: PermissionsFile) -> Permissions {
    let responses = format!("{key}.allow_responses");
    Permissions {
        publish: build_rule(p, &format!("{key}.publish"), f.publish),
        subscribe: build_rule(p, &format!("{key}.subscribe"), f.subscribe),
        allow_responses: match f.allow_responses {
            None | Some(ResponsesFile::Flag(false)) => None,
            Some(ResponsesFile::Flag(true)) => Some(ResponsePermission {
                max: RESPONSE_MAX,
                expires: RESPONSE_EXPIRES,
            }),
            Some(ResponsesFile::Table(t)) => Some(ResponsePermission {
                max: t.max.map_or(RESPONSE_MAX, us),
                expires: p.duration(&format!("{responses}.expires"), t.expires, RESPONSE_EXPIRES),
            }),
        },
    }
}

fn build_rule(p: &mut Problems, key: &str, f: RuleFile) -> SubjectRule {
    let (allow, deny) = match f {
        RuleFile::One(s) => (vec![s], Vec::new()),
        RuleFile::List(allow) => (allow, Vec::new()),
        RuleFile::Table(t) => (t.allow, t.deny),
    };
    for (list, name) in [(&allow, "allow"), (&deny, "deny")] {
        for (j, subject) in list.iter().enumerate() {
            if !is_valid_subject(subject) {
                p.add(
                    &format!("{key}.{name}[{j}]"),
                    format!("invalid subject \"{subject}\""),
                );
            }
        }
    }
    SubjectRule { allow, deny }
}

/// A subject or pattern: non-empty tokens split on '.', no whitespace, `*` and `>` only as
/// whole tokens, `>` only last.
pub(super) fn is_valid_subject(s: &str) -> bool {
    let mut tokens = s.split('.').peekable();
    while let Some(t) = tokens.next() {
        let bad_wildcard = t.len() > 1 && t.contains(['*', '>']);
        if t.is_empty() || t.contains(char::is_whitespace) || bad_wildcard {
            return false;
        }
        if t == ">" && tokens.peek().is_some() {
            return false;
        }
    }
    true
}
