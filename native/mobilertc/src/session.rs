//! The values of negotiation: ICE servers and policy, session descriptions, candidates and
//! the W3C state enums.

/// A STUN or TURN server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp`, `turns:…`.
    pub urls: Vec<String>,
    /// TURN user name; empty for STUN.
    pub username: String,
    /// TURN credential; empty for STUN.
    pub credential: String,
}

impl IceServer {
    /// A STUN server at `url` (no credentials).
    pub fn stun(url: impl Into<String>) -> IceServer {
        IceServer {
            urls: vec![url.into()],
            ..IceServer::default()
        }
    }
}

/// Which candidates ICE may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IceTransportPolicy {
    /// Host, server-reflexive and relay candidates.
    #[default]
    All,
    /// Only TURN relay candidates (hides the host's addresses; forces a relayed call).
    Relay,
}

/// Configuration of a [`PeerConnection`](crate::PeerConnection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerConnectionConfig {
    /// STUN/TURN servers; empty for host candidates only.
    pub ice_servers: Vec<IceServer>,
    /// Candidate filter.
    pub ice_transport_policy: IceTransportPolicy,
}

/// The type of a session description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// An offer.
    Offer,
    /// A provisional answer.
    Pranswer,
    /// A final answer.
    Answer,
    /// Rolls back a pending local or remote offer.
    Rollback,
}

impl SdpType {
    pub(crate) fn from_raw(value: u32) -> SdpType {
        match value {
            0 => SdpType::Offer,
            1 => SdpType::Pranswer,
            3 => SdpType::Rollback,
            _ => SdpType::Answer,
        }
    }

    /// The W3C name (`"offer"`, `"answer"`, …), as signaling usually carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            SdpType::Offer => "offer",
            SdpType::Pranswer => "pranswer",
            SdpType::Answer => "answer",
            SdpType::Rollback => "rollback",
        }
    }

    /// Parses a W3C name.
    pub fn parse(name: &str) -> Option<SdpType> {
        Some(match name {
            "offer" => SdpType::Offer,
            "pranswer" => SdpType::Pranswer,
            "answer" => SdpType::Answer,
            "rollback" => SdpType::Rollback,
            _ => return None,
        })
    }
}

/// An SDP offer or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// Offer, answer, ….
    pub kind: SdpType,
    /// The SDP text.
    pub sdp: String,
}

/// A trickled ICE candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// The media section's mid.
    pub sdp_mid: String,
    /// The media section's index.
    pub sdp_mline_index: i32,
    /// The `candidate:…` attribute value, without `a=`.
    pub candidate: String,
}

macro_rules! state_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $variant,)+
            /// A value this crate does not know (a newer shim).
            Unknown(i32),
        }
        impl $name {
            pub(crate) fn from_raw(value: i32) -> $name {
                match value {
                    $($value => $name::$variant,)+
                    other => $name::Unknown(other),
                }
            }
        }
    };
}

state_enum!(
    /// RTCSignalingState.
    SignalingState {
        /// No negotiation in progress.
        Stable = 0,
        /// A local offer is applied.
        HaveLocalOffer = 1,
        /// A local provisional answer is applied.
        HaveLocalPranswer = 2,
        /// A remote offer is applied.
        HaveRemoteOffer = 3,
        /// A remote provisional answer is applied.
        HaveRemotePranswer = 4,
        /// The connection is closed.
        Closed = 5,
    }
);

state_enum!(
    /// RTCIceConnectionState.
    IceConnectionState {
        /// Not started.
        New = 0,
        /// Checking candidate pairs.
        Checking = 1,
        /// A usable pair was found.
        Connected = 2,
        /// Checks finished.
        Completed = 3,
        /// No pair works.
        Failed = 4,
        /// Connectivity lost (may recover).
        Disconnected = 5,
        /// Closed.
        Closed = 6,
    }
);

state_enum!(
    /// RTCPeerConnectionState (ICE and DTLS combined).
    PeerConnectionState {
        /// Not started.
        New = 0,
        /// ICE or DTLS in progress.
        Connecting = 1,
        /// Media and data can flow.
        Connected = 2,
        /// Connectivity lost (may recover).
        Disconnected = 3,
        /// Failed for good.
        Failed = 4,
        /// Closed.
        Closed = 5,
    }
);

state_enum!(
    /// RTCIceGatheringState.
    IceGatheringState {
        /// Not started.
        New = 0,
        /// Gathering candidates.
        Gathering = 1,
        /// All candidates gathered.
        Complete = 2,
    }
);
