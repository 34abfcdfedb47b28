//! An event type's JSON Schema (2020-12), compiled once, and what it says of a payload.
//!
//! A schema is checked against its meta-schema and compiled when it enters the
//! catalog (a 422 otherwise), and compiled again when a process first needs it;
//! every payload of the type is then checked against the compiled form. The
//! crate is built without its HTTP and file retrievers (Cargo.toml), so a
//! `$ref` can name only the schema itself: a schema must not make hookrelay
//! fetch a URL, out of the address guard's sight, or read a local file.

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

/// A valid JSON Schema, as given and compiled, ready to check payloads.
pub struct EventSchema {
    source: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for EventSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSchema")
    }
}

/// Longest message kept from the validator: it quotes the schema's own values
/// (an `enum`'s options, a `pattern`), which may be long.
const MAX_MESSAGE: usize = 300;

impl EventSchema {
    pub fn parse(schema: Value) -> Result<EventSchema, String> {
        let validator = jsonschema::draft202012::options()
            .build(&schema)
            .map_err(|e| {
                // The error's instance is the schema: its path is a place in the schema.
                let at = e.instance_path();
                let message = match e.kind() {
                    ValidationErrorKind::Referencing(
                        jsonschema::ReferencingError::Unretrievable { uri, .. },
                    ) => bounded(format!(
                        "$ref {uri:?} is outside the schema, and hookrelay fetches nothing: \
                         a $ref must name a place in the schema itself, like \"#/$defs/price\""
                    )),
                    _ => bounded(e.to_string()),
                };
                if at.as_str().is_empty() {
                    format!("is not a valid JSON Schema (2020-12): {message}")
                } else {
                    format!("is not a valid JSON Schema (2020-12): at {at}: {message}")
                }
            })?;
        Ok(EventSchema {
            source: schema,
            validator,
        })
    }

    /// The schema as given.
    pub fn source(&self) -> &Value {
        &self.source
    }

    /// The first place where `payload` breaks the schema, if any.
    pub fn check(&self, payload: &Value) -> Result<(), Violation> {
        let Err(e) = self.validator.validate(payload) else {
            return Ok(());
        };
        // Masked: the value is at the pointer, and may be the whole payload.
        let message = bounded(e.masked_with("the value").to_string());
        Err(Violation {
            at: e.instance_path().to_string(),
            problem: format!("{message} (rule {})", e.schema_path()),
        })
    }
}

/// Where a payload breaks its schema, and how.
#[derive(Debug)]
pub struct Violation {
    /// A JSON pointer into the payload: `/items/0/price`; empty for the payload itself.
    pub at: String,
    /// What is wrong, and the rule (the failing keyword's place in the schema):
    /// `the value is not of type "number" (rule /properties/items/items/properties/price/type)`.
    pub problem: String,
}

fn bounded(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE) {
        message.truncate(cut);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order() -> EventSchema {
        EventSchema::parse(json!({
            "type": "object",
            "required": ["id", "items"],
            "properties": {
                "id": {"type": "integer"},
                "items": {"type": "array", "items": {
                    "type": "object",
                    "required": ["sku"],
                    "properties": {"sku": {"type": "string"}, "price": {"type": "number"}}
                }}
            }
        }))
        .unwrap()
    }

    #[test]
    fn names_the_place_and_the_rule_a_payload_breaks() {
        let schema = order();
        assert!(schema
            .check(&json!({"id": 1, "items": [{"sku": "a", "price": 2.5}]}))
            .is_ok());
        let err = schema
            .check(&json!({"id": 1, "items": [{"sku": "a", "price": "cheap"}]}))
            .unwrap_err();
        assert_eq!(err.at, "/items/0/price");
        assert!(
            err.problem
                .ends_with("(rule /properties/items/items/properties/price/type)"),
            "{err:?}"
        );
        assert!(
            !err.problem.contains("cheap"),
            "values are not echoed: {err:?}"
        );
        let err = schema.check(&json!({"id": 1})).unwrap_err();
        assert_eq!(err.at, "");
        assert!(
            err.problem.contains("\"items\"") && err.problem.ends_with("(rule /required)"),
            "{err:?}"
        );
    }

    #[test]
    fn refuses_what_is_not_a_schema() {
        for bad in [
            json!({"type": "float"}),
            json!({"required": "id"}),
            json!({"minimum": "five"}),
            json!(42),
        ] {
            assert!(EventSchema::parse(bad.clone()).is_err(), "{bad}");
        }
        assert!(EventSchema::parse(json!(true)).is_ok());
        assert!(EventSchema::parse(json!({})).is_ok());
    }

    #[test]
    fn fetches_nothing_a_reference_names() {
        for remote in [
            json!({"$ref": "http://127.0.0.1:9/schema.json"}),
            json!({"$ref": "file:///etc/passwd"}),
        ] {
            assert!(EventSchema::parse(remote.clone()).is_err(), "{remote}");
        }
        // Every schema is read as 2020-12: `$schema` fetches no meta-schema either.
        let meta = json!({"$schema": "http://127.0.0.1:9/meta", "type": "object"});
        assert!(EventSchema::parse(meta).unwrap().check(&json!(1)).is_err());
        let local = json!({"$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n"});
        assert!(EventSchema::parse(local)
            .unwrap()
            .check(&json!("x"))
            .is_err());
    }
}

/// A payload a schema accepts, made from what it says (its `examples`,
/// `const`, `enum`, `default`, then each type's plainest value), for the
/// portal to show what a type's events look like; `None` when the schema
/// says too little or too much (`oneOf`, `$ref`, patterns) to make one that
/// surely passes. Callers check the result against the schema before showing it.
pub fn example_payload(schema: &Value) -> Option<Value> {
    example_at(schema, 0)
}

fn example_at(schema: &Value, depth: usize) -> Option<Value> {
    if depth > 8 {
        return None;
    }
    let s = match schema {
        Value::Bool(true) => return Some(Value::Object(Default::default())),
        Value::Object(s) => s,
        _ => return None,
    };
    if let Some(first) = s
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return Some(first.clone());
    }
    for key in ["const", "default"] {
        if let Some(v) = s.get(key) {
            return Some(v.clone());
        }
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return Some(first.clone());
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().find_map(Value::as_str)?,
        None if s.contains_key("properties") => "object",
        _ => return None,
    };
    Some(match ty {
        "object" => {
            let mut out = serde_json::Map::new();
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (name, sub) in props {
                    out.insert(name.clone(), example_at(sub, depth + 1)?);
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = s
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            let item = example_at(s.get("items")?, depth + 1)?;
            Value::Array(vec![item; usize::try_from(min.min(3)).ok()?])
        }
        "string" => Value::from(match s.get("format").and_then(Value::as_str) {
            Some("date-time") => "2026-01-02T03:04:05Z",
            Some("date") => "2026-01-02",
            Some("email") => "someone@example.com",
            Some("uri") => "https://example.com/",
            Some("uuid") => "01890a5d-ac96-774b-bcce-b302099a8057",
            _ => "string",
        }),
        "integer" => Value::from(s.get("minimum").and_then(Value::as_i64).unwrap_or(1)),
        "number" => Value::from(s.get("minimum").and_then(Value::as_f64).unwrap_or(1.5)),
        "boolean" => Value::Bool(true),
        "null" => Value::Null,
        _ => return None,
    })
}

#[cfg(test)]
mod example_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_example_passes_the_schema_it_was_made_from() {
        let schema = json!({
            "type": "object",
            "required": ["order_id", "total", "items"],
            "properties": {
                "order_id": {"type": "integer", "minimum": 1},
                "total": {"type": "string"},
                "status": {"enum": ["paid", "open"]},
                "at": {"type": "string", "format": "date-time"},
                "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}}
            }
        });
        let example = example_payload(&schema).unwrap();
        assert_eq!(example["status"], "paid");
        assert!(EventSchema::parse(schema).unwrap().check(&example).is_ok());
    }

    #[test]
    fn examples_given_win_and_a_schema_that_says_too_little_makes_none() {
        assert_eq!(
            example_payload(&json!({"examples": [{"a": 1}], "type": "object"})),
            Some(json!({"a": 1}))
        );
        assert_eq!(
            example_payload(&json!({"oneOf": [{"type": "string"}]})),
            None
        );
    }
}
