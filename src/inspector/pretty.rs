//! JSON text re-indented for reading, cut at a size: numbers and strings stay exactly as the
//! sender wrote them (no float rounding of large integers), and a 20 MB body costs only the
//! part shown, since nothing is parsed into a tree.

/// Indentation per level.
const INDENT: &str = "  ";

/// `json` (valid JSON text, as the receiver accepted it) indented two spaces a level, cut at
/// `max` bytes at a character boundary; `true` when it was cut.
pub fn indent(json: &[u8], max: usize) -> (String, bool) {
    let mut out = Vec::with_capacity(json.len().min(max) + 64);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut bytes = json.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if out.len() >= max {
            return (finish(out, max), true);
        }
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                // An empty object or array stays on its line.
                while bytes.next_if(u8::is_ascii_whitespace).is_some() {}
                match bytes.peek() {
                    Some(b'}' | b']') => {
                        out.extend(bytes.next());
                    }
                    _ => {
                        depth += 1;
                        newline(&mut out, depth);
                    }
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b if b.is_ascii_whitespace() => {}
            b => out.push(b),
        }
    }
    let cut = out.len() > max;
    (finish(out, max), cut)
}

fn newline(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    for _ in 0..depth {
        out.extend_from_slice(INDENT.as_bytes());
    }
}

/// The text, cut to `max` bytes at a character boundary.
fn finish(mut out: Vec<u8>, max: usize) -> String {
    if out.len() > max {
        out.truncate(max);
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        // Only a cut through a character can make it invalid: drop that character's start.
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_objects_and_arrays_and_keeps_values_as_written() {
        let (text, cut) = indent(
            br#" {"a":[1, 2,{}],"b":{"c":"x,y:{z}\"q","n":123456789012345678901234567890},"e":[ ]}"#,
            1 << 20,
        );
        assert!(!cut);
        assert_eq!(
            text,
            "{\n  \"a\": [\n    1,\n    2,\n    {}\n  ],\n  \"b\": {\n    \"c\": \"x,y:{z}\\\"q\",\n    \
             \"n\": 123456789012345678901234567890\n  },\n  \"e\": []\n}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["b"]["c"],
            "x,y:{z}\"q"
        );
    }

    #[test]
    fn a_long_body_is_cut_at_the_limit_on_a_character_boundary() {
        let body = format!(r#"{{"text":"{}"}}"#, "é".repeat(1000));
        let (text, cut) = indent(body.as_bytes(), 100);
        assert!(cut);
        assert!(text.len() <= 100 && text.len() >= 96, "{}", text.len());
        assert!(text.starts_with("{\n  \"text\": \"éé"));
        let (_, cut) = indent(br#"{"a":1}"#, 100);
        assert!(!cut);
    }
}
