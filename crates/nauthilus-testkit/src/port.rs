//! Picks free loopback ports by letting the kernel choose (bind to port 0).
//!
//! The port is released again before the service binds it, so another process can take it in
//! between; callers detect that (`TestkitError::PortTaken`) and try a fresh port.

use std::net::{Ipv4Addr, TcpListener};

use crate::TestkitError;

/// Offset of the Redis Cluster bus port from the client port (fixed by Redis).
pub(crate) const CLUSTER_BUS_OFFSET: u16 = 10_000;

/// Attempts at finding a port whose cluster bus port is free too.
const PICK_ATTEMPTS: usize = 64;

/// Returns a port on 127.0.0.1 that was free a moment ago; with `with_bus`, port + 10000 was too.
pub(crate) fn free_loopback_port(with_bus: bool) -> Result<u16, TestkitError> {
    for _ in 0..PICK_ATTEMPTS {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|err| TestkitError::io("binding 127.0.0.1:0 to pick a free port", err))?;
        let port = listener
            .local_addr()
            .map_err(|err| TestkitError::io("reading the picked port", err))?
            .port();
        if !with_bus {
            return Ok(port);
        }
        let bus_free = port
            .checked_add(CLUSTER_BUS_OFFSET)
            .is_some_and(|bus| TcpListener::bind((Ipv4Addr::LOCALHOST, bus)).is_ok());
        if bus_free {
            return Ok(port);
        }
    }
    Err(TestkitError::InvalidSetup(format!(
        "no loopback port with a free cluster bus port (+{CLUSTER_BUS_OFFSET}) after {PICK_ATTEMPTS} attempts"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_port_can_be_bound() {
        let port = free_loopback_port(false).unwrap();
        assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok());
    }

    #[test]
    fn picked_cluster_port_leaves_room_for_the_bus_port() {
        let port = free_loopback_port(true).unwrap();
        assert!(port.checked_add(CLUSTER_BUS_OFFSET).is_some());
    }
}
