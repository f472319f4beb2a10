//! The scenarios: what each runs and what its call must show.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Caller and callee on one LAN: host/host.
    Local,
    /// Each peer behind its own stable NAT, STUN on the public segment: srflx.
    Srflx,
    /// Each peer behind a symmetric NAT, TURN with the short-lived credentials the signaling
    /// server hands out (coturn in `use-auth-secret` mode): relay.
    Relay,
    /// The relay network with an expired TURN credential (right HMAC, past expiry): a clear
    /// failure within the timeout.
    BadTurn,
    /// The LAN with a STUN server that answers nobody: still host/host.
    StunUnreachable,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::Local,
        Scenario::Srflx,
        Scenario::Relay,
        Scenario::BadTurn,
        Scenario::StunUnreachable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Local => "local",
            Scenario::Srflx => "srflx",
            Scenario::Relay => "relay",
            Scenario::BadTurn => "bad-turn",
            Scenario::StunUnreachable => "stun-unreachable",
        }
    }
}
