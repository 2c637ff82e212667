//! The parts of a [`Config`](super::Config), each built and validated from the settings file
//! in its own function (ripgrep's `HiArgs` style). An [`Invalid`] names the setting at fault.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use std::collections::BTreeMap;

use super::file::{ConfigFile, JournalSetting, PrimaryKeySetting, RouteSetting, StreamSetting};
use super::ops::{InspectorSettings, OpsToken};
use super::{IdempotencySettings, Limits};
use crate::capture::HeaderPatterns;
use crate::convert::routing::{self, Route, StreamOverride, StreamSettings};
use crate::journal::nats::NatsSettings;
use crate::reply::{ReplySetting, SuccessReply};
use crate::senders::handshake::{HandshakeKind, HandshakeSetting, Handshakes};
use crate::senders::signature::{SignatureSetting, Verifier};

/// Stitch's rule for primary key field names.
pub const MAX_KEY_NAME_CHARS: usize = 50;

/// A setting that cannot be used, and why.
#[derive(Debug)]
pub struct Invalid {
    pub key: &'static str,
    pub message: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        key,
        message: message.into(),
    }
}

/// `name` in snake_case: the schema name offered to targets.
pub fn schema_name(name: &str) -> Result<String, Invalid> {
    let schema_name = snake_case(name);
    if schema_name.is_empty() {
        return Err(invalid(
            "name",
            format!("{name:?} has no letters or digits to make a schema name"),
        ));
    }
    Ok(schema_name)
}

/// The configured key fields; empty when records are keyed by `__sdc_primary_key`.
pub fn primary_key(setting: Option<PrimaryKeySetting>) -> Result<Vec<String>, Invalid> {
    let keys = match setting {
        None => return Ok(Vec::new()),
        Some(PrimaryKeySetting::One(k)) => vec![k],
        Some(PrimaryKeySetting::Many(ks)) if ks.is_empty() => {
            return Err(invalid(
                "primary_key",
                "empty list; leave primary_key out to use a generated __sdc_primary_key",
            ));
        }
        Some(PrimaryKeySetting::Many(ks)) => ks,
    };
    for (i, key) in keys.iter().enumerate() {
        let chars = key.chars().count();
        let problem = if chars == 0 {
            "field name is empty".to_owned()
        } else if chars > MAX_KEY_NAME_CHARS {
            format!("{key:?} is {chars} characters; at most {MAX_KEY_NAME_CHARS}")
        } else if crate::convert::payload::is_reserved_field(key) {
            format!("{key:?} is in the Singer metadata namespace (_sdc_…, __sdc_…)")
        } else if crate::schema::names::escape(key) != key.as_str() {
            format!("{key:?} has characters no target takes (control characters, '\"')")
        } else if keys[..i]
            .iter()
            .any(|k| crate::schema::names::fold(k) == crate::schema::names::fold(key))
        {
            format!("{key:?} and another key are one column in targets that fold case")
        } else if keys[..i].contains(key) {
            format!("{key:?} is listed twice")
        } else {
            continue;
        };
        return Err(invalid("primary_key", problem));
    }
    Ok(keys)
}

/// `sequence_alias` and `received_at_alias`: column names of their own.
pub fn aliases(file: &ConfigFile, primary_key: &[String]) -> Result<(), Invalid> {
    for (key, alias) in [
        ("sequence_alias", &file.sequence_alias),
        ("received_at_alias", &file.received_at_alias),
    ] {
        let Some(alias) = alias else { continue };
        let problem = if alias.is_empty() || alias.len() > 63 {
            "must be 1 to 63 characters (a PostgreSQL column name)"
        } else if alias.starts_with("_sdc") || crate::convert::payload::is_reserved_field(alias) {
            "must not start with _sdc: targets drop or overwrite those columns"
        } else if primary_key.contains(alias) {
            "is a primary key field"
        } else {
            continue;
        };
        return Err(invalid(key, format!("{alias:?} {problem}")));
    }
    if file.sequence_alias.is_some() && file.sequence_alias == file.received_at_alias {
        return Err(invalid(
            "received_at_alias",
            "is the same as sequence_alias",
        ));
    }
    Ok(())
}

/// Where the tap listens and how it names itself in webhook URLs.
pub struct Addresses {
    pub bind: SocketAddr,
    pub ops_bind: Option<SocketAddr>,
    pub public_url: Option<String>,
}

impl Addresses {
    pub fn from_file(file: &ConfigFile) -> Result<Self, Invalid> {
        let bind = resolve_bind(&file.bind).map_err(|m| invalid("bind", m))?;
        let ops_bind = match &file.ops_bind {
            None => None,
            Some(ops) => Some(resolve_bind(ops).map_err(|m| invalid("ops_bind", m))?),
        };
        if ops_bind.is_some_and(|ops| ops == bind && bind.port() != 0) {
            return Err(invalid("ops_bind", "is the same address as bind"));
        }
        let public_url = match &file.public_url {
            None => None,
            Some(url) => {
                let trimmed = url.trim_end_matches('/').to_owned();
                if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
                    return Err(invalid(
                        "public_url",
                        format!("{url:?} must start with http:// or https://"),
                    ));
                }
                Some(trimmed)
            }
        };
        Ok(Addresses {
            bind,
            ops_bind,
            public_url,
        })
    }
}

/// Shortest `ops_token` accepted.
const MIN_OPS_TOKEN_CHARS: usize = 16;

/// `ops_token` and `inspect_bodies`: who may read the inspector and `/metrics` on `ops_bind`,
/// and whether it shows bodies. An `ops_bind` that other machines can reach needs a token.
pub fn inspector(
    file: &mut ConfigFile,
    ops_bind: Option<SocketAddr>,
) -> Result<InspectorSettings, Invalid> {
    let token = file.ops_token.take();
    let Some(ops_bind) = ops_bind else {
        if token.is_some() {
            return Err(invalid(
                "ops_token",
                "is only used with ops_bind: set ops_bind (for example 127.0.0.1:9090) or \
                 remove ops_token",
            ));
        }
        return Ok(InspectorSettings::default());
    };
    let ops_token = match token {
        Some(token) if token.expose().trim().chars().count() < MIN_OPS_TOKEN_CHARS => {
            return Err(invalid(
                "ops_token",
                format!(
                    "is shorter than {MIN_OPS_TOKEN_CHARS} characters; make one with \
                     `openssl rand -hex 32`"
                ),
            ));
        }
        Some(token) => Some(OpsToken::new(token.expose().trim())),
        None if !ops_bind.ip().is_loopback() => {
            return Err(invalid(
                "ops_bind",
                format!(
                    "{ops_bind} can be reached from other machines, and the inspector there shows \
                     what webhooks carry: set ops_token (a Bearer token, for example from \
                     `openssl rand -hex 32`), or bind to 127.0.0.1"
                ),
            ));
        }
        None => None,
    };
    Ok(InspectorSettings {
        ops_token,
        inspect_bodies: file.inspect_bodies,
    })
}

/// `data_dir`, body and journal sizes, and `max_records`.
pub fn check_sizes(file: &ConfigFile) -> Result<(), Invalid> {
    if file.data_dir.as_os_str().is_empty() {
        return Err(invalid("data_dir", "is empty"));
    }
    if file.max_body_bytes == 0 || file.max_body_bytes > u64::from(u32::MAX) {
        return Err(invalid(
            "max_body_bytes",
            format!("{} is out of range 1..={}", file.max_body_bytes, u32::MAX),
        ));
    }
    if file.journal_segment_bytes < 4096 {
        return Err(invalid(
            "journal_segment_bytes",
            format!(
                "{} is below the minimum of 4096",
                file.journal_segment_bytes
            ),
        ));
    }
    if file.max_records == Some(0) {
        return Err(invalid("max_records", "must be at least 1"));
    }
    Ok(())
}

/// `max_columns`: room for the tap's columns and some fields; within PostgreSQL's 1,600.
pub fn max_columns(value: u32) -> Result<usize, Invalid> {
    if !(10..=1600).contains(&value) {
        return Err(invalid(
            "max_columns",
            format!("{value} is outside 10..=1600 (PostgreSQL allows 1,600 columns per table)"),
        ));
    }
    Ok(value as usize)
}

impl Limits {
    pub(super) fn from_file(file: &ConfigFile) -> Result<Self, Invalid> {
        let count = |key: &'static str, n: u32| {
            if n == 0 {
                Err(invalid(key, "must be at least 1"))
            } else {
                Ok(n as usize)
            }
        };
        Ok(Limits {
            header_read_timeout: interval(
                "header_read_timeout_seconds",
                file.header_read_timeout_seconds,
            )?,
            body_read_timeout: interval(
                "body_read_timeout_seconds",
                file.body_read_timeout_seconds,
            )?,
            max_concurrent_requests: count(
                "max_concurrent_requests",
                file.max_concurrent_requests,
            )?,
            max_inflight_body_bytes: match file.max_inflight_body_bytes {
                0 => return Err(invalid("max_inflight_body_bytes", "must be at least 1")),
                n => n.max(file.max_body_bytes),
            },
            max_connections: count("max_connections", file.max_connections)?,
            max_fields: count("max_fields", file.max_fields)?,
        })
    }
}

impl IdempotencySettings {
    /// `None` without `idempotency_header`.
    pub(super) fn from_file(file: &ConfigFile) -> Result<Option<Self>, Invalid> {
        let Some(header) = &file.idempotency_header else {
            return Ok(None);
        };
        if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(invalid(
                "idempotency_header",
                format!("{header:?} is not a header name"),
            ));
        }
        let hours = file.idempotency_window_hours;
        let window = seconds(Some(hours * 3600.0))
            .ok()
            .flatten()
            .ok_or_else(|| {
                invalid(
                    "idempotency_window_hours",
                    format!("{hours} is not a positive number of hours"),
                )
            })?;
        if file.idempotency_max_ids == 0 {
            return Err(invalid("idempotency_max_ids", "must be at least 1"));
        }
        Ok(Some(IdempotencySettings {
            header: header.to_ascii_lowercase(),
            window,
            max_ids: usize::try_from(file.idempotency_max_ids).unwrap_or(usize::MAX),
        }))
    }
}

/// `token_sha256`: the digests of the only tokens accepted.
pub fn token_digests(list: Option<&[String]>) -> Result<Option<Vec<[u8; 32]>>, Invalid> {
    let Some(list) = list else { return Ok(None) };
    let mut digests = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        let mut digest = [0u8; 32];
        if hex::decode_to_slice(text.trim(), &mut digest).is_err() {
            return Err(invalid(
                "token_sha256",
                format!("entry {} is not 64 hex digits", i + 1),
            ));
        }
        digests.push(digest);
    }
    Ok(Some(digests))
}

/// `journal_retention_hours`: from 0 up.
pub fn retention(hours: f64) -> Result<Duration, Invalid> {
    if hours.is_finite() && (0.0..1e7).contains(&hours) {
        Ok(Duration::from_secs_f64(hours * 3600.0))
    } else {
        Err(invalid(
            "journal_retention_hours",
            format!("{hours} is not a number of hours from 0 up"),
        ))
    }
}

/// A setting in seconds that must be positive.
pub fn interval(key: &'static str, value: f64) -> Result<Duration, Invalid> {
    Ok(optional_interval(key, Some(value))?.unwrap_or_default())
}

/// An optional setting in seconds that must be positive when given.
pub fn optional_interval(
    key: &'static str,
    value: Option<f64>,
) -> Result<Option<Duration>, Invalid> {
    seconds(value).map_err(|m| invalid(key, m))
}

fn seconds(value: Option<f64>) -> Result<Option<Duration>, String> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(format!("{s} is not a positive number of seconds")),
    }
}

fn resolve_bind(bind: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = bind.parse::<SocketAddr>() {
        return Ok(addr);
    }
    match bind.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("{bind:?} resolves to no address")),
        Err(_) => Err(format!(
            "{bind:?} is not host:port (for example 127.0.0.1:8080)"
        )),
    }
}

/// "Stitch Incoming Webhooks" → "stitch_incoming_webhooks".
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_sep = false;
    for c in name.chars() {
        if c.is_alphanumeric() {
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.extend(c.to_lowercase());
        } else {
            pending_sep = true;
        }
    }
    out
}

/// `stream`, `route`, `max_streams`, `streams`, `capture_headers`, `capture_query`.
pub fn streams(file: &mut ConfigFile, primary_key: &[String]) -> Result<StreamSettings, Invalid> {
    let default = default_stream(&file.stream)?;
    let route = route(file.route.take())?;
    if file.max_streams == 0 {
        return Err(invalid("max_streams", "must be at least 1"));
    }
    let overrides = stream_overrides(std::mem::take(&mut file.streams))?;
    for pattern in &file.capture_headers {
        if pattern.is_empty()
            || !pattern
                .bytes()
                .all(|b| b == b'*' || http::HeaderName::from_bytes(&[b]).is_ok())
        {
            return Err(invalid(
                "capture_headers",
                format!("{pattern:?} is not a header name or glob"),
            ));
        }
    }
    Ok(StreamSettings {
        default,
        max_streams: file.max_streams as usize,
        overrides,
        primary_key: primary_key.to_vec(),
        append_only: file.append_only,
        capture_headers: capture_headers(file, route.as_ref()),
        route,
        capture_query: file.capture_query,
    })
}

/// `capture_headers` under the credential policy: the `route` header is kept as sent (routing
/// reads it), the configured signature header is a credential.
fn capture_headers(file: &mut ConfigFile, route: Option<&Route>) -> HeaderPatterns {
    let mut patterns = HeaderPatterns::new(std::mem::take(&mut file.capture_headers));
    let secrets = patterns.secrets_mut();
    if let Some(Route::Header(name)) = route {
        secrets.keep(name);
    }
    if let Some(header) = file
        .signature
        .as_ref()
        .and_then(SignatureSetting::credential_header)
    {
        secrets.set_signature_header(header);
    }
    patterns
}

/// `stream`: already a stream name (lower case letters, digits and _).
fn default_stream(stream: &str) -> Result<String, Invalid> {
    match routing::normalise(stream) {
        Some(name) if name == stream => Ok(name),
        Some(name) => Err(invalid(
            "stream",
            format!("{stream:?} is not a stream name; {name:?} would be"),
        )),
        None => Err(invalid(
            "stream",
            format!("{stream:?} is not a stream name"),
        )),
    }
}

/// `route`: exactly one of a header, a body field or the URL path.
fn route(setting: Option<RouteSetting>) -> Result<Option<Route>, Invalid> {
    Ok(match setting {
        None => None,
        Some(RouteSetting {
            header: Some(header),
            field: None,
            path: None,
        }) => {
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(invalid("route", format!("{header:?} is not a header name")));
            }
            Some(Route::Header(header.to_ascii_lowercase()))
        }
        Some(RouteSetting {
            header: None,
            field: Some(field),
            path: None,
        }) if !field.is_empty() => Some(Route::Field(field)),
        Some(RouteSetting {
            header: None,
            field: None,
            path: Some(true),
        }) => Some(Route::Path),
        Some(_) => {
            return Err(invalid(
                "route",
                "must be exactly one of {\"header\": NAME}, {\"field\": NAME}, {\"path\": true}",
            ));
        }
    })
}

/// `streams`: per-stream overrides, by stream name.
fn stream_overrides(
    settings: BTreeMap<String, StreamSetting>,
) -> Result<BTreeMap<String, StreamOverride>, Invalid> {
    let mut overrides = BTreeMap::new();
    for (name, setting) in settings {
        let normalised = routing::normalise(&name);
        if normalised.as_deref() != Some(name.as_str()) {
            let hint = match normalised {
                Some(n) => format!("; {n:?} would be"),
                None => String::new(),
            };
            return Err(invalid(
                "streams",
                format!(
                    "{name:?} is not a stream name{hint} (lower case letters, digits and _, at \
                     most 63 characters)"
                ),
            ));
        }
        let primary_key =
            match setting.primary_key {
                None => None,
                Some(keys) => Some(self::primary_key(Some(keys)).map_err(|e| {
                    invalid("streams", format!("{name}.primary_key: {}", e.message))
                })?),
            };
        overrides.insert(
            name,
            StreamOverride {
                primary_key,
                append_only: setting.append_only,
            },
        );
    }
    Ok(overrides)
}

/// `journal`: the NATS journal's settings, or `None` for the local journal in `data_dir`.
pub fn nats_journal(
    file: &mut ConfigFile,
    idempotency: Option<&IdempotencySettings>,
) -> Result<Option<NatsSettings>, Invalid> {
    match file.journal.take() {
        None | Some(JournalSetting::Local {}) => Ok(None),
        Some(JournalSetting::Nats(setting)) => crate::journal::nats::validate(
            *setting,
            file.max_body_bytes,
            idempotency.map(|i| (i.header.as_str(), i.window)),
        )
        .map(Some)
        .map_err(|message| invalid("journal", message)),
    }
}

/// `signature`: the verifier of every webhook's signature, if one is set.
pub fn signature(setting: Option<SignatureSetting>) -> Result<Option<Verifier>, Invalid> {
    setting
        .map(|s| {
            s.verifier()
                .map_err(|message| invalid("signature", message))
        })
        .transpose()
}

/// `handshake`: the provider whose URL check is answered, if one is set. Asana's handshake
/// gives the secret that verifies its deliveries: no `signature` goes with it.
pub fn handshake(
    setting: Option<HandshakeSetting>,
    signature: Option<&Verifier>,
) -> Result<Option<Handshakes>, Invalid> {
    let Some(handshakes) = setting
        .map(|s| {
            s.validate()
                .map_err(|message| invalid("handshake", message))
        })
        .transpose()?
    else {
        return Ok(None);
    };
    if handshakes.kind == HandshakeKind::Asana && signature.is_some() {
        return Err(invalid(
            "signature",
            "handshake kind asana verifies X-Hook-Signature with the secret Asana's handshake \
             gives; remove signature",
        ));
    }
    Ok(Some(handshakes))
}

/// `reply`: the success reply, if one is set.
pub fn reply(setting: Option<ReplySetting>) -> Result<Option<SuccessReply>, Invalid> {
    setting
        .map(|s| s.validate().map_err(|message| invalid("reply", message)))
        .transpose()
}

/// `rejections_per_second`, when `rejections` is on.
pub fn rejections(file: &ConfigFile) -> Result<Option<u32>, Invalid> {
    if file.rejections && file.rejections_per_second == 0 {
        return Err(invalid(
            "rejections_per_second",
            "must be at least 1 (or set rejections: false)",
        ));
    }
    Ok(file.rejections.then_some(file.rejections_per_second))
}
