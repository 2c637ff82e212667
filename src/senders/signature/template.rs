//! What a configured scheme signs: a `message` template over the request, and the timestamp
//! formats providers send.
//!
//! A template is parsed once at start into parts; a delivery's parts are borrowed from the
//! request (the body is never copied), so a MAC can be fed part by part.

use std::borrow::Cow;

use super::{HeaderSource, SignatureError, Signed, require, text};

/// The placeholders a `message` may use.
pub const PLACEHOLDERS: &str =
    "{body}, {timestamp}, {id}, {method}, {url}, {header:Name}, {query:Name}";

/// One part of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(Box<[u8]>),
    Body,
    Timestamp,
    Id,
    Method,
    Url,
    /// Lower case.
    Header(String),
    Query(String),
}

/// A parsed `message` template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// What a delivery's placeholders stand for, besides the headers and the body.
pub(super) struct Values<'a> {
    pub body: &'a [u8],
    pub timestamp: Option<&'a [u8]>,
    pub id: Option<&'a [u8]>,
    pub signed: &'a Signed<'a>,
}

impl Template {
    /// Parses `text`: `{name}` is a placeholder, everything else literal (a `{` with no `}`
    /// after it too). The error is the message after `message: `.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            literal.push_str(&rest[..open]);
            let part = placeholder(&rest[open + 1..close])?;
            if !literal.is_empty() {
                parts.push(Part::Literal(
                    std::mem::take(&mut literal).into_bytes().into(),
                ));
            }
            parts.push(part);
            rest = &rest[close + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal.into_bytes().into()));
        }
        if !parts.contains(&Part::Body) {
            return Err(format!(
                "{text:?} does not sign the body: add {{body}} where the provider puts it"
            ));
        }
        Ok(Template { parts })
    }

    /// The default template: the body alone.
    pub fn body() -> Template {
        Template {
            parts: vec![Part::Body],
        }
    }

    pub fn uses_timestamp(&self) -> bool {
        self.parts.contains(&Part::Timestamp)
    }

    pub fn uses_id(&self) -> bool {
        self.parts.contains(&Part::Id)
    }

    /// Whether it signs the URL the provider called (`{url}`, `{query:...}`).
    pub fn uses_url(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Url | Part::Query(_)))
    }

    /// The delivery's parts, in order; a header or query parameter it signs but that the
    /// request lacks is refused.
    pub(super) fn resolve<'a>(
        &'a self,
        headers: &'a (impl HeaderSource + ?Sized),
        values: &Values<'a>,
    ) -> Result<Vec<Cow<'a, [u8]>>, SignatureError> {
        let unknown =
            |what: &str| SignatureError::Malformed(format!("the request {what} is unknown"));
        self.parts
            .iter()
            .map(|part| {
                Ok(match part {
                    Part::Literal(bytes) => Cow::Borrowed(&bytes[..]),
                    Part::Body => Cow::Borrowed(values.body),
                    Part::Timestamp => Cow::Borrowed(values.timestamp.unwrap_or_default()),
                    Part::Id => Cow::Borrowed(values.id.unwrap_or_default()),
                    Part::Method => Cow::Borrowed(
                        values
                            .signed
                            .method
                            .ok_or_else(|| unknown("method"))?
                            .as_bytes(),
                    ),
                    Part::Url => {
                        Cow::Borrowed(values.signed.url.ok_or_else(|| unknown("URL"))?.as_bytes())
                    }
                    Part::Header(name) => Cow::Borrowed(require(headers, name)?),
                    Part::Query(name) => {
                        let url = values.signed.url.ok_or_else(|| unknown("URL"))?;
                        Cow::Owned(query_value(url, name)?.into_bytes())
                    }
                })
            })
            .collect()
    }
}

/// A placeholder's part, from the text between its braces.
fn placeholder(name: &str) -> Result<Part, String> {
    let unknown = || format!("unknown placeholder {{{name}}}; use {PLACEHOLDERS}");
    Ok(match name {
        "body" => Part::Body,
        "timestamp" => Part::Timestamp,
        "id" => Part::Id,
        "method" => Part::Method,
        "url" => Part::Url,
        _ => match name.split_once(':') {
            Some(("header", header)) => {
                if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return Err(format!(
                        "{{header:{header}}}: {header:?} is not a header name"
                    ));
                }
                Part::Header(header.to_ascii_lowercase())
            }
            Some(("query", query)) if !query.is_empty() => Part::Query(query.to_owned()),
            _ => return Err(unknown()),
        },
    })
}

/// The first value of the query parameter `name` in `url`, percent-decoded.
fn query_value(url: &str, name: &str) -> Result<String, SignatureError> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| SignatureError::Missing(format!("{name} query parameter")))
}

/// A signed timestamp in Unix seconds: its text is Unix seconds, Unix milliseconds (at least
/// 10^11) or RFC 3339.
pub fn parse_time(value: &[u8], what: &str) -> Result<i64, SignatureError> {
    let value = text(value, what)?;
    let refused = || {
        SignatureError::Malformed(format!(
            "{what} is not a timestamp (Unix seconds or milliseconds, or RFC 3339)"
        ))
    };
    if !value.is_empty() && value.len() <= 18 && value.bytes().all(|b| b.is_ascii_digit()) {
        let number: i64 = value.parse().map_err(|_| refused())?;
        return Ok(if number >= 100_000_000_000 {
            number / 1000
        } else {
            number
        });
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp())
        .map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_placeholders_and_literals() {
        let t = Template::parse("v0:{timestamp}:{body}").unwrap();
        assert_eq!(
            t.parts,
            [
                Part::Literal((*b"v0:").into()),
                Part::Timestamp,
                Part::Literal((*b":").into()),
                Part::Body
            ]
        );
        assert!(t.uses_timestamp() && !t.uses_id() && !t.uses_url());
        let t = Template::parse("{method}{url}{header:X-Ts}{query:a}{body}{").unwrap();
        assert_eq!(t.parts[2], Part::Header("x-ts".into()));
        assert_eq!(t.parts[5], Part::Literal((*b"{").into()));
        assert!(t.uses_url());
    }

    #[test]
    fn an_unknown_placeholder_is_refused_naming_it_and_the_valid_ones() {
        let e = Template::parse("{foo}.{body}").unwrap_err();
        assert_eq!(
            e,
            "unknown placeholder {foo}; use {body}, {timestamp}, {id}, {method}, {url}, \
             {header:Name}, {query:Name}"
        );
        assert!(Template::parse("{header:a b}{body}").is_err());
        assert!(Template::parse("{query:}{body}").is_err());
        assert!(
            Template::parse("{timestamp}")
                .unwrap_err()
                .contains("{body}")
        );
    }

    #[test]
    fn timestamps_are_seconds_milliseconds_or_rfc3339() {
        assert_eq!(parse_time(b"1614265330", "t"), Ok(1614265330));
        assert_eq!(parse_time(b"1614265330123", "t"), Ok(1614265330));
        assert_eq!(parse_time(b"2021-02-25T15:02:10Z", "t"), Ok(1614265330));
        assert_eq!(
            parse_time(b"2021-02-25T16:02:10.5+01:00", "t"),
            Ok(1614265330)
        );
        for bad in [
            &b""[..],
            b"-5",
            b"12x",
            b"99999999999999999999",
            b"2021-02-25",
        ] {
            assert!(parse_time(bad, "t").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(query_value("https://a/b?x=1&y=a%20b", "y").unwrap(), "a b");
        assert!(query_value("https://a/b", "y").is_err());
    }
}
