//! The smallest STUN client (RFC 5389 Binding request, XOR-MAPPED-ADDRESS) for the network
//! checks: which public address and port a NAT gave a socket, as the STUN server saw it.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

const MAGIC: u32 = 0x2112_A442;

pub fn binding_request(txid: [u8; 12]) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0..2].copy_from_slice(&0x0001u16.to_be_bytes());
    m[4..8].copy_from_slice(&MAGIC.to_be_bytes());
    m[8..20].copy_from_slice(&txid);
    m
}

/// The XOR-MAPPED-ADDRESS of a Binding success response to `txid` (IPv4), if it is one.
pub fn parse_binding_response(msg: &[u8], txid: [u8; 12]) -> Option<SocketAddrV4> {
    if msg.len() < 20
        || msg[0..2] != 0x0101u16.to_be_bytes()
        || msg[4..8] != MAGIC.to_be_bytes()
        || msg[8..20] != txid
    {
        return None;
    }
    let len = u16::from_be_bytes([msg[2], msg[3]]) as usize;
    let body = msg.get(20..20 + len)?;
    let mut i = 0;
    while i + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[i], body[i + 1]]);
        let alen = u16::from_be_bytes([body[i + 2], body[i + 3]]) as usize;
        let val = body.get(i + 4..i + 4 + alen)?;
        if typ == 0x0020 && alen >= 8 && val[1] == 0x01 {
            let port = u16::from_be_bytes([val[2], val[3]]) ^ (MAGIC >> 16) as u16;
            let ip = u32::from_be_bytes([val[4], val[5], val[6], val[7]]) ^ MAGIC;
            return Some(SocketAddrV4::new(Ipv4Addr::from(ip), port));
        }
        i += 4 + alen.div_ceil(4) * 4;
    }
    None
}

/// Ask `server` which address `sock` appears from; retries for up to `timeout`.
pub fn mapped_address(
    sock: &UdpSocket,
    server: SocketAddr,
    timeout: Duration,
) -> Result<SocketAddrV4> {
    let mut txid = [0u8; 12];
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let seed = std::process::id() as u128 ^ now.map(|d| d.as_nanos()).unwrap_or(0);
    for (i, b) in txid.iter_mut().enumerate() {
        *b = (seed >> (8 * i)) as u8;
    }
    let end = Instant::now() + timeout;
    let mut buf = [0u8; 1500];
    while Instant::now() < end {
        sock.send_to(&binding_request(txid), server)
            .with_context(|| format!("sending a STUN Binding request to {server}"))?;
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                if let Some(a) = parse_binding_response(&buf[..n], txid) {
                    return Ok(a);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e).with_context(|| format!("waiting for {server}'s STUN answer")),
        }
    }
    bail!("no STUN answer from {server} within {timeout:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_mapped_address_round_trip() {
        let txid = [7u8; 12];
        // A success response carrying SOFTWARE (odd length, padded) then XOR-MAPPED-ADDRESS
        // for 203.0.113.11:40000.
        let mut body = vec![
            0x80, 0x22, 0x00, 0x05, b'c', b'o', b't', b'u', b'r', 0, 0, 0,
        ];
        let port = 40000u16 ^ 0x2112;
        let ip = u32::from(Ipv4Addr::new(203, 0, 113, 11)) ^ MAGIC;
        body.extend([0x00, 0x20, 0x00, 0x08, 0x00, 0x01]);
        body.extend(port.to_be_bytes());
        body.extend(ip.to_be_bytes());
        let mut msg = vec![0x01, 0x01];
        msg.extend((body.len() as u16).to_be_bytes());
        msg.extend(MAGIC.to_be_bytes());
        msg.extend(txid);
        msg.extend(&body);
        assert_eq!(
            parse_binding_response(&msg, txid),
            Some("203.0.113.11:40000".parse().unwrap())
        );
        assert_eq!(
            parse_binding_response(&msg, [8u8; 12]),
            None,
            "other transaction"
        );
        assert_eq!(
            parse_binding_response(&binding_request(txid), txid),
            None,
            "a request"
        );
    }
}
