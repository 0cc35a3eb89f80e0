//! The exposure rule: a sidecar without tokens serves every entity, read and write, to whoever
//! can reach it, so it may listen only on a loopback address unless the operator says the
//! network is trusted (`allow_anonymous = true`).
//!
//! One function, [`check`], decides it. The `[sidecar]` reader applies it to the configured
//! `bind`, and [`Sidecar::bind_with`](crate::Sidecar::bind_with) applies it again to the address
//! it is about to bind, which is the final one: `polyroute serve --bind` and library callers
//! that set `SidecarConfig::bind` themselves cannot skip it.

use std::net::SocketAddr;

use crate::config::SidecarConfig;

/// The fix named by every refusal.
pub const FIX: &str = "add a `[[sidecar.tokens]]` entry (callers then send `Authorization: Bearer <token>`), listen on `127.0.0.1`, or set `[sidecar] allow_anonymous = true` if every machine that can reach this address is trusted";

/// Why a sidecar may not listen where it was asked to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposed {
    /// The address that was refused.
    pub addr: SocketAddr,
}

impl Exposed {
    /// What is wrong, without the fix ([`FIX`]).
    pub fn problem(&self) -> String {
        format!(
            "`{}` is reachable from other machines and no `[[sidecar.tokens]]` are declared, so anyone could read and write every entity",
            self.addr
        )
    }
}

impl std::fmt::Display for Exposed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {FIX}", self.problem())
    }
}

impl std::error::Error for Exposed {}

/// Whether `config` may listen on `addr`: always with tokens or on a loopback address; without
/// tokens elsewhere only when `allow_anonymous` is set.
pub fn check(config: &SidecarConfig, addr: SocketAddr) -> Result<(), Exposed> {
    if config.tokens.is_empty() && !addr.ip().is_loopback() && !config.allow_anonymous {
        Err(Exposed { addr })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{hash_token, Scope, TokenConfig};

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn open_addresses_need_tokens_or_consent() {
        let mut config = SidecarConfig::default();
        for open in [
            "0.0.0.0:7878",
            "[::]:7878",
            "10.1.2.3:80",
            "[2001:db8::1]:1",
        ] {
            let refused = check(&config, addr(open)).unwrap_err();
            assert_eq!(refused.addr, addr(open));
            assert!(
                refused.to_string().contains("[[sidecar.tokens]]"),
                "{refused}"
            );
        }
        for loopback in ["127.0.0.1:0", "127.0.0.2:7878", "[::1]:7878"] {
            assert!(check(&config, addr(loopback)).is_ok(), "{loopback}");
        }
        config.allow_anonymous = true;
        assert!(check(&config, addr("0.0.0.0:7878")).is_ok());
        config.allow_anonymous = false;
        config.tokens.push(TokenConfig {
            name: "app".into(),
            hash: hash_token("token-token-token-1"),
            read: Scope::All,
            write: Scope::All,
            ops: false,
        });
        assert!(check(&config, addr("0.0.0.0:7878")).is_ok());
    }
}
