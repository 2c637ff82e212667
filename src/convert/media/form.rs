//! `application/x-www-form-urlencoded` bodies → JSON.
//!
//! - A body that is wholly JSON (`curl -d '{"id":1}'` sends curl's default form type) is JSON.
//! - A form whose only field holds a JSON object or an array of objects (GitHub's form mode
//!   and Slack interactivity `payload=`, Mandrill `mandrill_events=`) is that JSON, unwrapped.
//! - Otherwise one record: each field a string, a repeated field an array of strings, in the
//!   order the fields first appear.
//!
//! Linear in the body: fields are grouped with a hash map, and at most
//! [`MAX_FORM_FIELDS`](super::MAX_FORM_FIELDS) are read.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;

use super::{MAX_FORM_FIELDS, MediaError, push_json_string};

/// A form value: text, or a file's description (multipart only).
#[derive(Debug)]
pub enum Value<'a> {
    Text(Cow<'a, str>),
    /// A JSON object, written as is.
    Json(String),
}

/// Fields in the order their names first appear; a repeated name collects its values.
#[derive(Debug, Default)]
pub struct Fields<'a> {
    fields: Vec<(Cow<'a, str>, Vec<Value<'a>>)>,
    index: HashMap<Cow<'a, str>, usize>,
    count: usize,
}

impl<'a> Fields<'a> {
    /// Adds a value; refuses the body past [`MAX_FORM_FIELDS`] values.
    pub fn push(&mut self, name: Cow<'a, str>, value: Value<'a>) -> Result<(), MediaError> {
        self.count += 1;
        if self.count > MAX_FORM_FIELDS {
            return Err(MediaError::TooManyFields(format!(
                "the form has more than {MAX_FORM_FIELDS} fields"
            )));
        }
        match self.index.get(&name) {
            Some(&at) => self.fields[at].1.push(value),
            None => {
                self.index.insert(name.clone(), self.fields.len());
                self.fields.push((name, vec![value]));
            }
        }
        Ok(())
    }

    /// The JSON a single field holds, when the form has exactly one field with one value and
    /// that value is a JSON object or an array of objects.
    pub fn sole_json(&self) -> Option<&str> {
        let [(_, values)] = self.fields.as_slice() else {
            return None;
        };
        let [Value::Text(text)] = values.as_slice() else {
            return None;
        };
        let trimmed = text.trim();
        let holds_records = match trimmed.as_bytes().first() {
            Some(b'{') => serde_json::from_str::<&RawValue>(trimmed).is_ok(),
            Some(b'[') => serde_json::from_str::<Vec<&RawValue>>(trimmed)
                .is_ok_and(|items| items.iter().all(|v| v.get().starts_with('{'))),
            _ => false,
        };
        holds_records.then_some(trimmed)
    }

    /// One JSON object: a field with one value → that value, several → an array.
    pub fn into_json(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * self.fields.len() + 2);
        out.push(b'{');
        for (i, (name, values)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_string(&mut out, name);
            out.push(b':');
            let many = values.len() > 1;
            if many {
                out.push(b'[');
            }
            for (j, value) in values.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                match value {
                    Value::Text(text) => push_json_string(&mut out, text),
                    Value::Json(json) => out.extend_from_slice(json.as_bytes()),
                }
            }
            if many {
                out.push(b']');
            }
        }
        out.push(b'}');
        out
    }

    /// The form as JSON: the sole field's JSON unwrapped, or the fields as one object.
    pub fn finish(self) -> Vec<u8> {
        match self.sole_json() {
            Some(json) => json.as_bytes().to_vec(),
            None => self.into_json(),
        }
    }
}

/// Whether a form-typed body is JSON itself: it opens an object or an array and is JSON, or
/// is not a form either (broken JSON, refused as such). A form whose first field name opens
/// with a bracket (`[x]=1&y=2`) is a form.
fn is_json(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let body = body.trim_ascii_start();
    if !matches!(body.first(), Some(b'{' | b'[')) {
        return false;
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        return true;
    }
    let first_field = body.split(|&b| b == b'&').next().unwrap_or_default();
    match (
        first_field.iter().position(|&b| b == b'='),
        first_field.iter().position(|&b| b == b'"'),
    ) {
        (Some(eq), Some(quote)) => quote < eq,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// A form body as JSON text.
pub fn to_json(body: &[u8]) -> Result<Cow<'_, [u8]>, MediaError> {
    if is_json(body) {
        return Ok(Cow::Borrowed(body));
    }
    let mut fields = Fields::default();
    for (name, value) in form_urlencoded::parse(body) {
        fields.push(name, Value::Text(value))?;
    }
    Ok(Cow::Owned(fields.finish()))
}

/// A decoded form field: name and value.
pub type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The form's fields as (name, value) pairs in body order, for signatures over fields
/// (Twilio). At most [`MAX_FORM_FIELDS`].
pub fn pairs(body: &[u8]) -> Result<Vec<Pair<'_>>, MediaError> {
    let mut out = Vec::new();
    for pair in form_urlencoded::parse(body) {
        if out.len() == MAX_FORM_FIELDS {
            return Err(MediaError::TooManyFields(format!(
                "the form has more than {MAX_FORM_FIELDS} fields"
            )));
        }
        out.push(pair);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &str) -> String {
        String::from_utf8(to_json(body.as_bytes()).unwrap().into_owned()).unwrap()
    }

    #[test]
    fn fields_are_strings_and_repeated_fields_arrays() {
        assert_eq!(
            json("From=%2B15551234567&Body=Hello+there&n=1&n=2&empty="),
            r#"{"From":"+15551234567","Body":"Hello there","n":["1","2"],"empty":""}"#
        );
    }

    #[test]
    fn a_body_that_is_json_stays_json() {
        assert_eq!(json(r#"  {"id":2}"#), r#"  {"id":2}"#);
        assert_eq!(json(r#"[{"id":2}]"#), r#"[{"id":2}]"#);
    }

    #[test]
    fn a_form_whose_first_name_opens_with_a_bracket_is_a_form() {
        assert_eq!(json("[x]=1&y=2"), r#"{"[x]":"1","y":"2"}"#);
        assert_eq!(json("{a}=1"), r#"{"{a}":"1"}"#);
        // Broken JSON stays JSON, and is refused as such later.
        assert_eq!(json(r#"{"a":"b=c""#), r#"{"a":"b=c""#);
        assert_eq!(json("[1,2"), "[1,2");
    }

    #[test]
    fn a_sole_field_holding_records_is_unwrapped() {
        assert_eq!(
            json("payload=%7B%22action%22%3A%22opened%22%7D"),
            r#"{"action":"opened"}"#
        );
        assert_eq!(
            json(
                "mandrill_events=%5B%7B%22event%22%3A%22send%22%7D%2C%7B%22event%22%3A%22open%22%7D%5D"
            ),
            r#"[{"event":"send"},{"event":"open"}]"#
        );
        // Not records, or not alone: ordinary fields.
        assert_eq!(json("tags=%5B1%2C2%5D"), r#"{"tags":"[1,2]"}"#);
        assert_eq!(json("payload=%7Bbroken"), r#"{"payload":"{broken"}"#);
        assert_eq!(
            json("payload=%7B%7D&token=x"),
            r#"{"payload":"{}","token":"x"}"#
        );
        assert_eq!(json("p=%7B%7D&p=%7B%7D"), r#"{"p":["{}","{}"]}"#);
    }

    #[test]
    fn too_many_fields_are_refused() {
        let body = "a=1&".repeat(MAX_FORM_FIELDS + 1);
        assert!(matches!(
            to_json(body.as_bytes()),
            Err(MediaError::TooManyFields(_))
        ));
        assert!(pairs(body.as_bytes()).is_err());
        assert_eq!(pairs(b"b=2&a=1").unwrap().len(), 2);
    }
}
