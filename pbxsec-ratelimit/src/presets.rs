//! Presets: the products' defaults as named constructors.
//!
//! Where the products' documentation (as summarised in the workspace
//! SPEC.md) leaves a value unstated, the value chosen here is named in the
//! constructor's doc comment as "our choice".

use std::time::Duration;

use pbxsec_core::Transport;

use crate::{RateConfig, ThresholdConfig};

const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Vodia's weight for an unauthenticated TCP connection.
pub const VODIA_TCP_WEIGHT: u32 = 1;
/// Vodia's weight for an unauthenticated TLS connection (a TLS handshake
/// costs the server far more than a TCP one).
pub const VODIA_TLS_WEIGHT: u32 = 3;

/// The weight Vodia gives an unauthenticated connection over `transport`:
/// TLS 3, TCP 1, anything else 1.
pub const fn vodia_connection_weight(transport: Transport) -> u32 {
    match transport {
        Transport::Tls => VODIA_TLS_WEIGHT,
        _ => VODIA_TCP_WEIGHT,
    }
}

impl ThresholdConfig {
    /// PortSIP: 50 failed authentications from one IP within the detection
    /// period put it on the blacklist for 1 hour. The detection period is
    /// our choice: 1 hour (PortSIP makes it configurable).
    pub fn portsip_failed_auth() -> Self {
        Self::new(50, HOUR).with_block_for(HOUR)
    }

    /// PortSIP: failed challenges (a REGISTER or INVITE answered with
    /// 401/407 that never comes back with credentials) are counted like
    /// failed authentications: 50 within the detection period (our choice:
    /// 1 hour) → blacklisted for 1 hour. Record one event per challenge
    /// that timed out unanswered.
    pub fn portsip_unanswered_challenges() -> Self {
        Self::new(50, HOUR).with_block_for(HOUR)
    }

    /// Yeastar P-Series auto defense, SSH: 10 packets per 60 s per IP.
    /// The P-Series blocks the IP until an administrator removes it:
    /// `block_for` is unset, ban with [`BanList::ban_permanent`](crate::BanList::ban_permanent).
    pub fn yeastar_ssh() -> Self {
        Self::new(10, MIN)
    }

    /// Yeastar P-Series auto defense, SIP over UDP: 40 packets per 2 s per IP
    /// (blocked until removed, as [`yeastar_ssh`](Self::yeastar_ssh)).
    pub fn yeastar_sip_udp() -> Self {
        Self::new(40, 2 * SEC)
    }

    /// Yeastar P-Series auto defense, SIP over TCP: 40 packets per 2 s per IP
    /// (blocked until removed).
    pub fn yeastar_sip_tcp() -> Self {
        Self::new(40, 2 * SEC)
    }

    /// Yeastar P-Series auto defense, HTTP: 120 packets per 60 s per IP
    /// (blocked until removed).
    pub fn yeastar_http() -> Self {
        Self::new(120, MIN)
    }

    /// Yeastar P-Series auto defense, HTTPS: 120 packets per 60 s per IP
    /// (blocked until removed).
    pub fn yeastar_https() -> Self {
        Self::new(120, MIN)
    }

    /// Yeastar MyPBX auto blacklist rule 1: port 5060/UDP, 120 packets in
    /// 60 seconds. MyPBX adds the IP to the blacklist (until removed).
    pub fn mypbx_sip_udp_per_minute() -> Self {
        Self::new(120, MIN)
    }

    /// Yeastar MyPBX auto blacklist rule 2: port 5060/UDP, 40 packets in
    /// 2 seconds.
    pub fn mypbx_sip_udp_per_2s() -> Self {
        Self::new(40, 2 * SEC)
    }

    /// Yeastar MyPBX auto blacklist rule 3: port 8022/TCP (SSH), 5 packets
    /// in 60 seconds.
    pub fn mypbx_ssh_8022() -> Self {
        Self::new(5, MIN)
    }

    /// Yeastar MyPBX web login: 5 wrong passwords → the IP is limited for
    /// 10 minutes. The counting window is our choice: 10 minutes.
    pub fn mypbx_web_login() -> Self {
        Self::new(5, 10 * MIN).with_block_for(10 * MIN)
    }

    /// Vodia: "number of tolerated attempts", "time for counting attempts",
    /// "blacklist duration". The key is blacklisted on the attempt that
    /// exceeds the tolerated number, so the limit is `tolerated + 1`.
    /// Unauthenticated connections are recorded with
    /// [`vodia_connection_weight`] (TCP 1, TLS 3); the counter is cleared
    /// after `counting_time` of quiet, which the sliding window does.
    pub fn vodia(tolerated_attempts: u32, counting_time: Duration, blacklist: Duration) -> Self {
        Self::new(tolerated_attempts.saturating_add(1), counting_time).with_block_for(blacklist)
    }

    /// [`vodia`](Self::vodia) with our choice of values: 10 tolerated
    /// attempts, counted over 60 s, blacklisted for 1 hour.
    pub fn vodia_default() -> Self {
        Self::vodia(10, MIN, HOUR)
    }
}

impl RateConfig {
    /// PortSIP level 1: more than 500 packets per second from one IP blocks
    /// it for the level-1 time (our choice: 10 minutes). Burst 500.
    pub fn portsip_level1() -> Self {
        Self::new(500, SEC).with_block_for(10 * MIN)
    }

    /// PortSIP level 2: more than 2000 packets per second from one IP blocks
    /// it for the level-2 time (our choice: 1 hour). Burst 2000.
    pub fn portsip_level2() -> Self {
        Self::new(2000, SEC).with_block_for(HOUR)
    }

    /// Yeastar outbound call frequency: at most 5 outbound calls per second
    /// per extension (burst 5). Key it by extension.
    pub fn yeastar_outbound_calls() -> Self {
        Self::new(5, SEC)
    }
}
