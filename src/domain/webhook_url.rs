//! Where a webhook's deliveries go: an absolute `http` or `https` URL.

use std::fmt;

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    pub fn parse(s: &str) -> Result<WebhookUrl, String> {
        if s.len() > 2048 {
            return Err(format!("must be at most 2048 characters, got {}", s.len()));
        }
        if s.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        let url = Url::parse(s).map_err(|e| format!("is not an absolute URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("must be http or https, not {:?}", url.scheme()));
        }
        if url.host().is_none() {
            return Err("must name a host".into());
        }
        // What is stored is the normalised form, which can be longer than what
        // was given (a space becomes %20): the limit applies to that.
        if url.as_str().len() > 2048 {
            return Err(format!(
                "must be at most 2048 characters once normalised, got {}",
                url.as_str().len()
            ));
        }
        Ok(WebhookUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn host(&self) -> Option<url::Host<&str>> {
        self.0.host()
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_only() {
        assert!(WebhookUrl::parse("https://example.com/hooks").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/").is_ok());
        assert!(WebhookUrl::parse("ftp://example.com").is_err());
        assert!(WebhookUrl::parse("/relative").is_err());
        assert!(WebhookUrl::parse("not a url").is_err());
        assert!(WebhookUrl::parse(&format!("https://e.com/{}", "a".repeat(2048))).is_err());
        // 1,500 characters given, 3,000 once each space is %20.
        let spaced = format!("https://e.com/{}", " a".repeat(740));
        assert!(spaced.len() <= 2048);
        assert!(WebhookUrl::parse(&spaced).is_err());
    }
}
