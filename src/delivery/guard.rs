//! The outbound address guard: no delivery to loopback, private, link-local,
//! CGNAT, unique-local, multicast, unspecified or otherwise reserved addresses.
//!
//! The check runs on what the connection will really use: a hostname is resolved
//! by `GuardedResolver`, which passes on only public addresses, on every attempt,
//! so a DNS answer that changes after registration cannot smuggle one in. A URL
//! with a literal IP never reaches a resolver, so `send` checks it directly.
//! Proxies from the environment are ignored, since a proxy resolves hostnames
//! out of the guard's sight; one named by `HOOKRELAY_OUTBOUND_PROXY` takes
//! over the guard's job for hostnames (see `send::Sender`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::WebhookUrl;

/// The attempt was refused by the guard.
#[derive(Debug, thiserror::Error)]
#[error("refused by the address guard: {0}")]
pub struct Refused(pub String);

pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_forbidden(v4),
        IpAddr::V6(v6) => v6_forbidden(v6),
    }
}

fn v4_forbidden(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
        || a >= 240 // reserved
}

fn v6_forbidden(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_forbidden(v4);
    }
    let seg = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || nat64_forbidden(seg, embedded_v4(seg[6], seg[7]))
        || (seg[0] == 0x2002 && v4_forbidden(embedded_v4(seg[1], seg[2]))) // 6to4
        // Teredo 2001::/32, refused whole rather than decoded: it carries the
        // client's IPv4 (inverted) and its server's, reached through whichever
        // relay the network picks, and no webhook receiver lives there today.
        || (seg[0] == 0x2001 && seg[1] == 0)
        || (seg[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated) and other ::/96
}

/// NAT64 (64:ff9b::/32): only the well-known prefix 64:ff9b::/96 places the
/// IPv4 address where it can be read (the last 32 bits), so it is judged by
/// that address. The local-use 64:ff9b:1::/48 (RFC 8215) may embed it at any of
/// several prefix lengths chosen by the network's operator, and the rest of the
/// /32 is unassigned: both are refused whole.
fn nat64_forbidden(seg: [u16; 8], last_32_bits: Ipv4Addr) -> bool {
    if seg[..2] != [0x0064, 0xff9b] {
        return false;
    }
    seg[2..6] != [0, 0, 0, 0] || v4_forbidden(last_32_bits)
}

/// The IP of a URL whose host is a literal address.
pub fn literal_ip(url: &WebhookUrl) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Resolves with the system resolver and keeps only addresses the guard allows.
#[derive(Debug, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| !is_forbidden(a.ip()))
                .collect();
            if allowed.is_empty() {
                let shown: Vec<String> = resolved.iter().map(|a| a.ip().to_string()).collect();
                return Err(Box::new(Refused(format!(
                    "{host} resolves to {}, a private or reserved address",
                    shown.join(", ")
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_internal_addresses_and_allows_public_ones() {
        let refused = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            // NAT64 local-use 64:ff9b:1::/48, whatever it embeds.
            "64:ff9b:1::a00:1",
            "64:ff9b:1:808:808::",
            "64:ff9b:1::808:808",
            // Teredo 2001::/32: server 65.54.227.120, client 63.64.0.45
            // (0x3f40002d inverted is 0xc0bfffd2), then a loopback client.
            "2001:0:4136:e378:8000:63bf:c0bf:ffd2",
            "2001:0:4136:e378::80ff:fffe",
        ];
        for ip in refused {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip} should be refused");
        }
        let allowed = [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2001:4860:4860::8888",
        ];
        for ip in allowed {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }
}
