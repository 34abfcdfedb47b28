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
