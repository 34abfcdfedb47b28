//! The event-type catalog: what a webhook may subscribe to, each type with
//! its description, schema and an example payload. The operator adds,
//! changes and archives types here; a tenant's portal shows the same list,
//! read-only, so a customer knows what it can subscribe to and what arrives.

use maud::{html, Markup};
use serde_json::Value;

use super::{csrf, layout, notice, Nav};
use crate::api::auth::Caller;
use crate::console::session::Viewer;
use crate::store::event_types::EventTypeEntry;

/// The add-or-change form's values, as typed.
#[derive(Debug, Default, Clone)]
pub struct TypeFields {
    pub name: String,
    pub description: String,
    pub schema: String,
}

impl TypeFields {
    pub fn of(e: &EventTypeEntry) -> TypeFields {
        TypeFields {
            name: e.name.clone(),
            description: e.description.clone().unwrap_or_default(),
            schema: e
                .schema
                .as_ref()
                .and_then(|s| serde_json::to_string_pretty(s).ok())
                .unwrap_or_default(),
        }
    }
}

/// One catalog entry with the example payload made for it, if any.
pub struct Listed<'a> {
    pub entry: &'a EventTypeEntry,
    pub example: Option<Value>,
}

pub struct EventTypesPage<'a> {
    pub viewer: &'a Viewer,
    pub types: Vec<Listed<'a>>,
    /// The operator's form: empty, a type to change, or what was refused.
    pub form: TypeFields,
    pub notice: Option<String>,
    pub error: Option<String>,
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

pub fn page(p: &EventTypesPage) -> Markup {
    let v = p.viewer;
    let operator = v.caller == Caller::Operator;
    layout(
        v,
        "Event types",
        Nav::EventTypes,
        html! {
            h1 { "Event types" }
            p.muted {
                @if operator {
                    "The catalog: the types webhooks subscribe to, what each means and, with a schema, what its payloads must be. Tenants see it in their portal."
                } @else {
                    "The events you can subscribe a webhook to, what each means, and what its payload looks like."
                }
            }
            (notice(p.notice.as_deref(), false))
            (notice(p.error.as_deref(), true))
            @if operator {
                section.panel aria-labelledby="type-form-title" {
                    h2 #type-form-title { "Add or change a type" }
                    form #type-form method="post" action=(v.href("/event-types")) {
                        (csrf(v))
                        div.field {
                            label for="type-name" { "Type " span.hint { "(e.g. order.created; an existing one is changed)" } }
                            input #type-name type="text" name="name" value=(p.form.name) required maxlength="128";
                        }
                        div.field {
                            label for="type-description" { "Description" }
                            input #type-description type="text" name="description" value=(p.form.description) maxlength="1024";
                        }
                        div.field {
                            label for="type-schema" { "Schema " span.hint { "(JSON Schema 2020-12, checked on save; empty for any payload)" } }
                            textarea #type-schema name="schema" rows="8" spellcheck="false" { (p.form.schema) }
                        }
                        button type="submit" { "Save type" }
                    }
                }
            }
            section.panel aria-labelledby="catalog-title" {
                h2 #catalog-title { "Catalog" }
                @if p.types.is_empty() {
                    p.muted { "No event types yet." }
                }
                @for t in &p.types {
                    @let e = t.entry;
                    article.pick id={ "type-" (e.name) } {
                        h3 {
                            span.mono { (e.name) }
                            @if e.archived { " " span.badge { "archived" } }
                        }
                        @if let Some(d) = &e.description { p { (d) } }
                        @if let Some(schema) = &e.schema {
                            details.small { summary { "Schema" } pre.mono { (pretty(schema)) } }
                        }
                        @if let Some(example) = &t.example {
                            details.small.example { summary { "Example payload" } pre.mono { (pretty(example)) } }
                        }
                        @if operator {
                            div.actions {
                                a.button.secondary href=(format!("{}?edit={}", v.href("/event-types"), e.name)) { "Edit" }
                                form.inline method="post" action=(v.href(&format!("/event-types/{}/archived", e.name))) {
                                    (csrf(v))
                                    @if e.archived {
                                        input type="hidden" name="archived" value="false";
                                        button.secondary type="submit" { "Unarchive" }
                                    } @else {
                                        input type="hidden" name="archived" value="true";
                                        button.danger type="submit" { "Archive" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
