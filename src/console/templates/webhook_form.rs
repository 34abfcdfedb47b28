//! The webhook form, for a new webhook and for changing one: the URL, the
//! event types picked from the catalog (each with its description and
//! schema) or typed, custom headers, rate limit and `max_in_flight`. What is
//! typed is kept as typed, so a refused form comes back as it was sent; the
//! checks are the service's, the API's own.

use std::collections::BTreeMap;

use maud::{html, Markup};

use crate::domain::MASKED;
use crate::service::ServiceError;
use crate::store::event_types::EventTypeEntry;
use crate::store::webhooks::Webhook;

/// The form's values, as typed (or as the webhook has them).
#[derive(Debug, Default, Clone)]
pub struct WebhookFields {
    pub tenant: String,
    pub url: String,
    pub description: String,
    /// Types ticked in the catalog's list.
    pub picked: Vec<String>,
    /// Types typed: those not in the catalog, `*`.
    pub other_types: String,
    /// `Name: value`, one per line; `None`: the form had no such field.
    pub headers: Option<String>,
    pub rate_limit: String,
    /// `None`: the form had no such field.
    pub max_in_flight: Option<String>,
}

impl WebhookFields {
    /// A webhook's values: its types split between the catalog's and the others.
    pub fn of(w: &Webhook, catalog: &[EventTypeEntry]) -> WebhookFields {
        let (picked, other): (Vec<String>, Vec<String>) = w
            .event_types
            .iter()
            .cloned()
            .partition(|t| catalog.iter().any(|e| &e.name == t));
        let headers = w
            .headers
            .as_object()
            .map(|h| {
                h.keys()
                    .map(|k| format!("{k}: {MASKED}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        WebhookFields {
            tenant: w.tenant.clone(),
            url: w.url.clone(),
            description: w.description.clone().unwrap_or_default(),
            picked,
            other_types: other.join(", "),
            headers: Some(headers),
            rate_limit: w.rate_limit.map(|r| r.to_string()).unwrap_or_default(),
            max_in_flight: Some(w.max_in_flight.map(|r| r.to_string()).unwrap_or_default()),
        }
    }

    /// A posted form (names may repeat: one `event_type` per ticked type).
    pub fn posted(pairs: &[(String, String)]) -> WebhookFields {
        let mut f = WebhookFields::default();
        for (name, value) in pairs {
            match name.as_str() {
                "tenant" => f.tenant = value.trim().to_owned(),
                "url" => f.url = value.trim().to_owned(),
                "description" => f.description = value.trim().to_owned(),
                "event_type" => f.picked.push(value.clone()),
                "event_types" => f.other_types = value.clone(),
                "headers" => f.headers = Some(value.clone()),
                "rate_limit" => f.rate_limit = value.trim().to_owned(),
                "max_in_flight" => f.max_in_flight = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        f
    }

    /// Every type asked for: the ticked ones, then the typed ones. Commas
    /// and line breaks separate typed types; a space does not, so a type
    /// typed with one is refused as the API refuses it.
    pub fn types(&self) -> Vec<String> {
        let mut types = self.picked.clone();
        types.extend(
            self.other_types
                .split([',', '\n'])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        );
        types
    }

    pub fn description(&self) -> Option<String> {
        Some(self.description.clone()).filter(|d| !d.is_empty())
    }

    pub fn rate_limit(&self) -> Result<Option<i64>, ServiceError> {
        number("rate_limit", &self.rate_limit)
    }

    pub fn max_in_flight(&self) -> Result<Option<i64>, ServiceError> {
        number("max_in_flight", self.max_in_flight.as_deref().unwrap_or(""))
    }

    /// The headers box as the API's object: `Name: value` per line.
    pub fn header_map(&self) -> Result<Option<BTreeMap<String, String>>, ServiceError> {
        let Some(text) = &self.headers else {
            return Ok(None);
        };
        let mut map = BTreeMap::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                return Err(ServiceError::invalid(
                    "headers",
                    format!("{line:?} is not a header: write one per line as Name: value"),
                ));
            };
            map.insert(name.trim().to_owned(), value.trim().to_owned());
        }
        Ok(Some(map))
    }
}

/// An optional whole number from a form box: empty is none.
fn number(field: &str, raw: &str) -> Result<Option<i64>, ServiceError> {
    match raw.trim() {
        "" => Ok(None),
        n => n.parse::<i64>().map(Some).map_err(|_| {
            ServiceError::invalid(field, format!("must be a whole number, got {n:?}"))
        }),
    }
}

/// The form's fields (not the `<form>` around them, nor its button).
/// `tenant`: whether it asks whose the webhook is (the operator's new one).
pub fn fields(f: &WebhookFields, catalog: &[EventTypeEntry], tenant: bool) -> Markup {
    let offered: Vec<&EventTypeEntry> = catalog
        .iter()
        .filter(|e| !e.archived || f.picked.contains(&e.name))
        .collect();
    html! {
        @if tenant {
            div.field {
                label for="tenant" { "Tenant " span.hint { "(its key; empty for default)" } }
                input #tenant type="text" name="tenant" value=(f.tenant) maxlength="64";
            }
        }
        div.field {
            label for="url" { "URL" }
            input #url type="url" name="url" value=(f.url) required maxlength="2048" placeholder="https://example.com/webhooks";
        }
        fieldset.picker {
            legend { "Event types" }
            @if offered.is_empty() {
                p.small.muted { "The catalog lists no event types yet: type them below." }
            }
            @for e in &offered {
                div.pick {
                    label.check {
                        input type="checkbox" name="event_type" value=(e.name) checked[f.picked.contains(&e.name)];
                        " " span.mono { (e.name) }
                        @if e.archived { " " span.badge { "archived" } }
                    }
                    @if let Some(d) = &e.description { div.small.muted { (d) } }
                    @if let Some(schema) = &e.schema {
                        details.small {
                            summary { "Schema" }
                            pre.mono { (serde_json::to_string_pretty(schema).unwrap_or_default()) }
                        }
                    }
                }
            }
            div.field {
                label for="event_types" { "Other types " span.hint { "(comma-separated; * for all)" } }
                input #event_types type="text" name="event_types" value=(f.other_types);
            }
        }
        div.field {
            label for="description" { "Description" }
            input #description type="text" name="description" value=(f.description) maxlength="1024";
        }
        div.field {
            label for="headers" { "Custom headers " span.hint { "(one per line, Name: value; sent with every attempt; " (MASKED) " keeps a stored value)" } }
            textarea #headers name="headers" rows="3" spellcheck="false" { (f.headers.as_deref().unwrap_or("")) }
        }
        div.columns {
            div.field {
                label for="rate_limit" { "Rate limit " span.hint { "(attempts per second; empty for none)" } }
                input #rate_limit type="number" name="rate_limit" min="1" value=(f.rate_limit);
            }
            div.field {
                label for="max_in_flight" { "Max in flight " span.hint { "(attempts at once, 1 for one at a time; empty for the default)" } }
                input #max_in_flight type="number" name="max_in_flight" min="1" max="1000" value=(f.max_in_flight.as_deref().unwrap_or(""));
            }
        }
    }
}
