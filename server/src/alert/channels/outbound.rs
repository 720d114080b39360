//! Where channels may connect. An alert channel's address is set by an admin (or by whoever
//! holds an admin's token), so it must not become a way to reach what only this server can:
//! the cloud's metadata service (169.254.169.254), the database, other services on loopback or
//! the private network. A host is resolved, every address it resolves to is checked, and the
//! connection goes to the checked addresses only (no second lookup an attacker's DNS could
//! answer differently). Hosts and networks an operator lists are allowed all the same.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

/// Why a destination is refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{host} is {what} ({address}): alert channels may not reach it unless \
     TRAILKEEPER_ALERT_ALLOWED_HOSTS lists it"
)]
pub struct Refused {
    pub host: String,
    pub address: IpAddr,
    pub what: &'static str,
}

/// The destinations allowed besides the public internet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Destinations {
    hosts: Vec<String>,
    networks: Vec<IpNet>,
}

impl Destinations {
    /// Public addresses only: the default.
    pub fn public_only() -> Destinations {
        Destinations::default()
    }

    /// Public addresses and the listed host names, addresses and networks (CIDR).
    pub fn allowing<S: AsRef<str>>(listed: &[S]) -> Result<Destinations, String> {
        let mut allowed = Destinations::default();
        for entry in listed.iter().map(|entry| entry.as_ref().trim()) {
            if entry.is_empty() {
                continue;
            }
            if let Ok(network) = entry.parse::<IpNet>() {
                allowed.networks.push(network);
            } else if let Ok(address) = entry.parse::<IpAddr>() {
                allowed.networks.push(IpNet::from(address));
            } else if entry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                allowed.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "{entry:?} is neither a host name, an address nor a network such as 10.0.0.0/8"
                ));
            }
        }
        Ok(allowed)
    }

    /// Whether `host` may be reached at `address`.
    pub fn check(&self, host: &str, address: IpAddr) -> Result<(), Refused> {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        if self.hosts.contains(&host) || self.networks.iter().any(|n| n.contains(&address)) {
            return Ok(());
        }
        match internal(address) {
            Some(what) => Err(Refused {
                host,
                address,
                what,
            }),
            None => Ok(()),
        }
    }

    /// Checks a host given as an address now (a name is checked where it resolves, at each
    /// connection).
    pub fn check_literal(&self, host: &str) -> Result<(), Refused> {
        match host.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(address) => self.check(host, address),
            Err(_) => Ok(()),
        }
    }

    /// Resolves `host` and checks every address it has; all of them or none.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let bare = host.trim_matches(['[', ']']);
        let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(address) => vec![SocketAddr::new(address, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|error| ResolveError::Lookup(format!("cannot resolve {bare}: {error}")))?
                .collect(),
        };
        for address in &addresses {
            self.check(bare, address.ip())?;
        }
        Ok(addresses)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("{0}")]
    Lookup(String),
}

/// What kind of internal address this is, if it is one.
fn internal(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_link_local() {
                Some("a link-local address (such as the cloud's metadata service)")
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                Some("a private address")
            } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || a == 0 {
                Some("not a host's address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a private address")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("not a host's address")
            } else {
                None
            }
        }
    }
}

/// reqwest's resolver for channels: names resolve to checked addresses only.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    pub destinations: Arc<Destinations>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let destinations = self.destinations.clone();
        Box::pin(async move {
            let addresses = destinations
                .resolve(name.as_str(), 0)
                .await
                .map_err(|error| -> Box<dyn std::error::Error + Send + Sync> { Box::new(error) })?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_unless_listed() {
        let public = Destinations::public_only();
        for internal in [
            "127.0.0.1",
            "169.254.169.254",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(public.check("h", ip(internal)).is_err(), "{internal}");
        }
        for outside in ["203.0.113.10", "8.8.8.8", "2001:db8::1", "172.32.0.1"] {
            assert!(public.check("h", ip(outside)).is_ok(), "{outside}");
        }
        let refused = public.check("metadata", ip("169.254.169.254")).unwrap_err();
        assert!(refused.to_string().contains("link-local"), "{refused}");
        assert!(
            refused
                .to_string()
                .contains("TRAILKEEPER_ALERT_ALLOWED_HOSTS")
        );

        let listed = Destinations::allowing(&["127.0.0.1", "10.0.0.0/8", "Mail.Internal"]).unwrap();
        assert!(listed.check("x", ip("127.0.0.1")).is_ok());
        assert!(listed.check("x", ip("127.0.0.2")).is_err());
        assert!(listed.check("x", ip("10.9.9.9")).is_ok());
        assert!(listed.check("mail.internal", ip("192.168.0.5")).is_ok());
        assert!(listed.check("x", ip("169.254.169.254")).is_err());
        assert!(Destinations::allowing(&["not a host!"]).is_err());
    }
}
