//! Forwarding through the real appliance image under QEMU: three simulated hosts, pings across the router, ICMPv6 errors and a neighbor-cache flood.
//!
//! The appliance boots on microvm with three ports, each a unix datagram
//! socket pair (no root needed), configured with one global /64 per port:
//! host A on 2001:db8:a::/64, B on 2001:db8:b::/64 and C on
//! 2001:db8:c::/64, whose port has MTU 1280. Each host has a static
//! address (`::2` of its prefix), learns the router's MAC by soliciting
//! the router's link-local address, and answers the router's Neighbor
//! Solicitations for its own address whenever the test reads its port, as
//! a real host would, so the router can resolve it as a next hop.
//!
//! What is checked (RFC 8200 §3, RFC 4443 §2.2 and §3, RFC 4861 §7.2.2,
//! RFC 6583): echo requests and replies cross the router with the hop limit
//! decremented by one; hop limit 1 gets Time Exceeded, a packet over the
//! egress MTU gets Packet Too Big, a destination without a route gets
//! Destination Unreachable code 0, each from the router's global address
//! on the ingress port with the invoking packet quoted; a flood of
//! solicitations and of packets to unresolvable neighbors leaves the heap
//! and the neighbor cache bounded and the real neighbor reachable; and the
//! counters name all of it on the right ports.
//!
//! Timeouts are generous and nothing is asserted about timing. At most
//! [`tools::test_support::CONCURRENT_MACHINES`] machines run at once.

use std::net::Ipv6Addr;
use std::thread;
use std::time::{Duration, Instant};

use tools::image::Flavor;
use tools::qemu::{self, ApplianceExit, Counters, Machine, PortSocket, READY_LINE, RunningMachine};
use tools::simulated_host::{
    ECHO_HOP_LIMIT, ICMPV6_DESTINATION_UNREACHABLE, ICMPV6_PACKET_TOO_BIG, ICMPV6_TIME_EXCEEDED,
    MacAddress, ReceivedIcmpv6Error, Retry, SimulatedHost, UnexpectedFrame, Xorshift, echo_payload,
    ipv6_source_of, link_local_from_mac, parse_echo_request, parse_icmpv6_error,
};
use tools::test_support::{MachineSlot, counter_changes, counter_growth, image, while_draining};

/// How long a boot may take to print the ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the appliance may take to stop.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Neighbor Solicitations for the router are sent up to this often, each awaited this long.
const RESOLVE_RETRY: Retry = Retry {
    attempts: 5,
    timeout: Duration::from_secs(3),
};
/// How often an exchange across the router is tried before the test fails.
const ATTEMPTS: u32 = 3;
/// How long each step of an exchange (a forwarded packet, an error) is awaited.
/// Address resolution of a next hop takes up to 3 s by itself (RFC 4861 §7.2.2).
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a port is watched to show that nothing was forwarded to it.
const QUIET_WINDOW: Duration = Duration::from_secs(3);

/// The number of ports, one per host.
const PORTS: usize = 3;
/// Host A's port.
const A: usize = 0;
/// Host B's port.
const B: usize = 1;
/// Host C's port, the one with the small MTU.
const C: usize = 2;
/// The configured port names, by port index.
const PORT_NAMES: [&str; PORTS] = ["lan-a", "lan-b", "lan-c"];
/// The configured MTU of port C: the IPv6 minimum (RFC 8200 §5).
const C_MTU: u32 = 1280;
/// The total IPv6 length of the packet that is too big for port C.
const OVERSIZE_PACKET: usize = 1400;
/// The largest ICMPv6 error packet (RFC 4443 §2.4(c)).
const MAXIMUM_ERROR_PACKET: usize = 1280;
/// Ethernet header length.
const ETHERNET_HEADER: usize = 14;
/// IPv6 header plus ICMPv6 error header.
const ERROR_HEADERS: usize = 40 + 8;
/// Offset of the IPv6 hop limit in an Ethernet frame.
const HOP_LIMIT_OFFSET: usize = ETHERNET_HEADER + 7;
/// A destination no route covers (there is no default route).
const UNROUTED: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);

/// Frames sent by the flood test (packets from A and solicitations on C).
const FLOOD_FRAMES: usize = 5000;
/// How much the heap may grow during the flood: the neighbor cache and
/// the pending-packet buffers are allocated at start.
const HEAP_GROWTH_BOUND: u64 = 1 << 20;
/// How long after the flood the test waits for unresolved neighbors to
/// fail (MAX_MULTICAST_SOLICIT × RETRANS_TIMER is 3 s).
const FLOOD_SETTLE: Duration = Duration::from_secs(6);

/// The prefix of port `index`: 2001:db8:a::/64, 2001:db8:b::/64, 2001:db8:c::/64.
fn prefix_segment(index: usize) -> u16 {
    0xa + index as u16
}

/// The router's global address on port `index` (`::1` of its /64).
fn router_address(index: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, prefix_segment(index), 0, 0, 0, 0, 1)
}

/// The static address of the host on port `index` (`::2` of its /64).
fn host_address(index: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, prefix_segment(index), 0, 0, 0, 0, 2)
}

/// An address in the /64 of port `index` with interface identifier `interface`.
fn address_in_prefix(index: usize, interface: u64) -> Ipv6Addr {
    let network = u128::from(router_address(index)) & !u128::from(u64::MAX);
    Ipv6Addr::from(network | u128::from(interface))
}

/// The router's MAC on port `index` (QEMU's assignment).
fn router_mac(index: usize) -> MacAddress {
    qemu::port_mac(index)
}

/// The configuration: three named ports with one /64 each, port C at MTU
/// 1280, no routes beyond the connected ones, defaults everywhere else.
fn config_text() -> String {
    let mut config = String::from("[router]\nname = \"forwarding-test\"\n");
    for (index, name) in PORT_NAMES.into_iter().enumerate() {
        config.push_str(&format!(
            "\n[[port]]\nname = \"{name}\"\naddresses = [\"{}/64\"]\n",
            router_address(index)
        ));
        if index == C {
            config.push_str(&format!("mtu = {C_MTU}\n"));
        }
    }
    config
}

/// One booted appliance with hosts A, B and C on its ports.
struct Network {
    /// Declared first: dropped (and QEMU killed) before the slot is freed.
    machine: RunningMachine,
    hosts: [SimulatedHost; PORTS],
    flavor: Flavor,
    started: Instant,
    _slot: MachineSlot,
}

impl Network {
    /// Boots `flavor` with [`config_text`], waits for the ready line, and
    /// has every host resolve the router's link-local address on its port.
    fn boot(flavor: Flavor) -> Network {
        let started = Instant::now();
        let image = image(flavor);
        let slot = MachineSlot::take();
        let machine = Machine::new(image)
            .ports(PORTS)
            .config_text(config_text())
            .start()
            .unwrap_or_else(|error| panic!("cannot start QEMU: {error}"));
        let hosts = std::array::from_fn(|index| {
            SimulatedHost::with_address([0x02, 0, 0, 0, 0x0c, index as u8], host_address(index))
        });
        let network = Network {
            machine,
            hosts,
            flavor,
            started,
            _slot: slot,
        };
        let ready = network
            .machine
            .wait_for_line(READY_LINE, READY_TIMEOUT)
            .unwrap_or_else(|error| panic!("{error}"));
        if !ready.contains(&format!("({PORTS} ports)")) {
            network.fail(format_args!(
                "the ready line {ready:?} does not count {PORTS} ports"
            ));
        }
        for (index, host) in network.hosts.iter().enumerate() {
            let name = PORT_NAMES[index];
            let target = link_local_from_mac(router_mac(index));
            let advertisement = host
                .resolve(network.port(index), target, RESOLVE_RETRY)
                .unwrap_or_else(|error| {
                    network.fail(format_args!(
                        "host {name} cannot resolve the router's {target}: {error}"
                    ))
                });
            if advertisement.target_mac != Some(router_mac(index)) {
                network.fail(format_args!(
                    "the router advertises {:?} for {target} on {name}, not its MAC",
                    advertisement.target_mac
                ));
            }
        }
        network
    }

    fn port(&self, index: usize) -> &PortSocket {
        self.machine.port_socket(index)
    }

    /// Panics with `what` and the console transcript.
    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!(
            "{} image: {what}; console:\n{}",
            self.flavor.name(),
            self.machine.transcript()
        )
    }

    /// Sends `frame` on port `index` as its host.
    fn send(&self, index: usize, frame: &[u8]) {
        if let Err(error) = self.port(index).send(frame) {
            self.fail(format_args!("sending on {}: {error}", PORT_NAMES[index]));
        }
    }

    /// Reads port `index` as its host (answering the router's solicitations)
    /// until `accept` takes a frame, for up to `timeout`; an error naming
    /// the port and the last refused frame when none came.
    fn receive<T>(
        &self,
        index: usize,
        timeout: Duration,
        what: &str,
        accept: impl FnMut(&[u8]) -> Result<T, UnexpectedFrame>,
    ) -> Result<T, String> {
        self.hosts[index]
            .receive_answering_solicitations(self.port(index), timeout, what, accept)
            .map_err(|error| format!("on {}: {error}", PORT_NAMES[index]))
    }

    /// Fails if a frame with IPv6 source `source` arrives on port `index`
    /// within [`QUIET_WINDOW`] (solicitations are answered meanwhile).
    fn assert_nothing_from(&self, index: usize, source: Ipv6Addr, why: &str) {
        let found = self.receive(index, QUIET_WINDOW, "nothing", |frame| {
            if ipv6_source_of(frame) == Some(source) {
                Ok(frame.len())
            } else {
                Err(UnexpectedFrame("another frame".into()))
            }
        });
        if let Ok(length) = found {
            self.fail(format_args!(
                "a {length}-byte frame from {source} reached {} although {why}",
                PORT_NAMES[index]
            ));
        }
    }

    /// The router's counters.
    fn counters(&self) -> Counters {
        self.machine
            .counters()
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// The heap use the `memory` console command reports, in bytes.
    fn heap_used(&self) -> u64 {
        self.machine
            .heap_used()
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Stops the appliance with `shutdown` and expects a clean exit.
    fn shutdown(self, test: &str) {
        let exit = self
            .machine
            .shutdown(EXIT_TIMEOUT)
            .unwrap_or_else(|error| panic!("{error}"));
        if exit != ApplianceExit::Clean {
            self.fail(format_args!("the appliance stopped with {exit:?}"));
        }
        eprintln!(
            "{test} ({} image): passed in {:.1} s",
            self.flavor.name(),
            self.started.elapsed().as_secs_f64()
        );
    }

    /// One echo exchange from the host on `from` to the host on `to`
    /// through the router: the request arrives at `to` from the router's
    /// MAC with the hop limit decremented by one, `to` answers, and the
    /// reply arrives at `from` the same way. Tried [`ATTEMPTS`] times.
    fn ping(&self, from: usize, to: usize, identifier: u16, sequence: u16) {
        let sender = &self.hosts[from];
        let receiver = &self.hosts[to];
        let payload = echo_payload(identifier, sequence);
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            self.send(
                from,
                &sender.echo_request(
                    router_mac(from),
                    receiver.address,
                    identifier,
                    sequence,
                    &payload,
                ),
            );
            let request = self.receive(to, FRAME_TIMEOUT, "the forwarded echo request", |frame| {
                let request = parse_echo_request(frame)?;
                if (request.source, request.destination) != (sender.address, receiver.address)
                    || (request.identifier, request.sequence) != (identifier, sequence)
                {
                    return Err(UnexpectedFrame(format!(
                        "echo request {} -> {} id {} seq {}",
                        request.source, request.destination, request.identifier, request.sequence
                    )));
                }
                Ok(request)
            });
            let request = match request {
                Ok(request) => request,
                Err(why) => {
                    failures.push(why);
                    continue;
                }
            };
            let route = format!("{} -> {}", PORT_NAMES[from], PORT_NAMES[to]);
            if request.hop_limit != ECHO_HOP_LIMIT - 1 {
                self.fail(format_args!(
                    "{route}: the echo request arrived with hop limit {}, sent with {ECHO_HOP_LIMIT} (RFC 8200 §3: decrement by one)",
                    request.hop_limit
                ));
            }
            if (request.source_mac, request.destination_mac) != (router_mac(to), receiver.mac) {
                self.fail(format_args!(
                    "{route}: the echo request came in a frame {:?} -> {:?}, expected the router's {:?} -> the host's {:?}",
                    request.source_mac,
                    request.destination_mac,
                    router_mac(to),
                    receiver.mac
                ));
            }
            if request.payload != payload {
                self.fail(format_args!("{route}: the echo request's data changed"));
            }
            self.send(
                to,
                &receiver.echo_reply(
                    router_mac(to),
                    sender.address,
                    identifier,
                    sequence,
                    &payload,
                ),
            );
            let reply = self.receive(from, FRAME_TIMEOUT, "the forwarded echo reply", |frame| {
                sender.parse_echo_reply(frame, receiver.address, identifier, sequence, &payload)?;
                Ok((
                    frame[HOP_LIMIT_OFFSET],
                    [0, 1, 2, 3, 4, 5].map(|at| frame[6 + at]),
                ))
            });
            match reply {
                Ok((hop_limit, source_mac)) => {
                    if hop_limit != ECHO_HOP_LIMIT - 1 || source_mac != router_mac(from) {
                        self.fail(format_args!(
                            "{route}: the echo reply arrived with hop limit {hop_limit} from MAC {source_mac:?}, expected {} from the router's {:?}",
                            ECHO_HOP_LIMIT - 1,
                            router_mac(from)
                        ));
                    }
                    return;
                }
                Err(why) => failures.push(why),
            }
        }
        self.fail(format_args!(
            "no echo round trip {} -> {} in {ATTEMPTS} attempts: {}",
            PORT_NAMES[from],
            PORT_NAMES[to],
            failures.join("; ")
        ))
    }

    /// Sends `frame` (from host A toward something behind the router) and
    /// waits at A for an ICMPv6 error of `message_type` about it. Checks
    /// what every error about A's packet must satisfy (RFC 4443 §2.2,
    /// §2.4(c)): from the router's global address on A's port (the
    /// ingress port's address whose prefix holds the invoking source), to
    /// A at A's MAC from the router's MAC, quoting A's packet as sent, as
    /// far as the error stays within 1280 bytes. Returns the error.
    fn expect_error_at_a(&self, frame: &[u8], message_type: u8, what: &str) -> ReceivedIcmpv6Error {
        let host = &self.hosts[A];
        let invoking = &frame[ETHERNET_HEADER..];
        let destination = parse_echo_request(frame)
            .expect("the test sends echo requests")
            .destination;
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            self.send(A, frame);
            let error = self.receive(A, FRAME_TIMEOUT, what, |received| {
                let error = parse_icmpv6_error(received)?;
                if error.message_type != message_type
                    || error.invoking_addresses() != Some((host.address, destination))
                {
                    return Err(UnexpectedFrame(format!(
                        "ICMPv6 error type {} code {} from {} about {:?}",
                        error.message_type,
                        error.code,
                        error.source,
                        error.invoking_addresses()
                    )));
                }
                Ok(error)
            });
            let error = match error {
                Ok(error) => error,
                Err(why) => {
                    failures.push(why);
                    continue;
                }
            };
            if error.source != router_address(A) {
                self.fail(format_args!(
                    "{what} came from {}, expected the router's address on A's port {} (RFC 4443 §2.2; forwarding.rs/icmp_error.rs: a global address of the ingress port whose prefix holds the invoking source)",
                    error.source,
                    router_address(A)
                ));
            }
            if error.destination != host.address
                || error.destination_mac != host.mac
                || error.source_mac != router_mac(A)
            {
                self.fail(format_args!(
                    "{what} went to {} at {:?} from MAC {:?}, expected {} at {:?} from {:?}",
                    error.destination,
                    error.destination_mac,
                    error.source_mac,
                    host.address,
                    host.mac,
                    router_mac(A)
                ));
            }
            let quoted = invoking.len().min(MAXIMUM_ERROR_PACKET - ERROR_HEADERS);
            if error.invoking_packet != invoking[..quoted] {
                let first_difference = error
                    .invoking_packet
                    .iter()
                    .zip(invoking)
                    .position(|(received, sent)| received != sent);
                self.fail(format_args!(
                    "{what} quotes {} bytes, expected the first {quoted} bytes of A's {}-byte packet (RFC 4443 §2.4(c)); first difference at byte {first_difference:?}",
                    error.invoking_packet.len(),
                    invoking.len()
                ));
            }
            return error;
        }
        self.fail(format_args!(
            "no {what} at A in {ATTEMPTS} attempts: {}",
            failures.join("; ")
        ))
    }
}

/// The value of counter `name` on port `index`.
fn counter(counters: &Counters, index: usize, name: &str) -> u64 {
    tools::test_support::counter(counters, PORT_NAMES[index], name)
}

/// How much counter `name` on port `index` grew from `before` to `after`.
fn growth(before: &Counters, after: &Counters, index: usize, name: &str) -> u64 {
    counter_growth(before, after, PORT_NAMES[index], name)
}

/// Asserts that each `(port, counter)` in `expected` grew from `before` to `after`.
fn assert_grew(network: &Network, before: &Counters, after: &Counters, expected: &[(usize, &str)]) {
    let missing: Vec<String> = expected
        .iter()
        .filter(|(index, name)| growth(before, after, *index, name) == 0)
        .map(|(index, name)| format!("{} {name}", PORT_NAMES[*index]))
        .collect();
    if !missing.is_empty() {
        network.fail(format_args!(
            "counters that did not move: {missing:?}; those that did: {:?}",
            counter_changes(before, after)
        ));
    }
}

/// Step 1: A and C ping each other through the router, and B pings C.
fn check_pings(network: &Network) {
    let before = network.counters();
    network.ping(A, C, 0x0a0c, 1);
    network.ping(C, A, 0x0c0a, 1);
    network.ping(B, C, 0x0b0c, 1);
    let after = network.counters();
    assert_grew(
        network,
        &before,
        &after,
        &[
            (A, "forwarded"),
            (B, "forwarded"),
            (C, "forwarded"),
            (C, "out_forwarded"),
            (A, "out_forwarded"),
        ],
    );
}

/// Step 2: hop limit 1 from A toward C gets Time Exceeded code 0.
fn check_time_exceeded(network: &Network) {
    let before = network.counters();
    let payload = echo_payload(0x7e01, 1);
    let frame = network.hosts[A].echo_request_with_hop_limit(
        router_mac(A),
        host_address(C),
        1,
        0x7e01,
        1,
        &payload,
    );
    let error = network.expect_error_at_a(&frame, ICMPV6_TIME_EXCEEDED, "Time Exceeded");
    if error.code != 0 {
        network.fail(format_args!(
            "Time Exceeded code {}, expected 0, hop limit exceeded in transit (RFC 4443 §3.3)",
            error.code
        ));
    }
    network.assert_nothing_from(C, host_address(A), "its hop limit was 1");
    let after = network.counters();
    assert_grew(
        network,
        &before,
        &after,
        &[(A, "hop_limit_exceeded"), (A, "icmp_time_exceeded_sent")],
    );
}

/// Step 3: a 1400-byte packet from A toward C (MTU 1280) gets Packet Too Big with MTU 1280.
fn check_packet_too_big(network: &Network) {
    let before = network.counters();
    let payload = vec![0x5a; OVERSIZE_PACKET - ERROR_HEADERS];
    let frame = network.hosts[A].echo_request_with_hop_limit(
        router_mac(A),
        host_address(C),
        ECHO_HOP_LIMIT,
        0x7e02,
        1,
        &payload,
    );
    assert_eq!(frame.len(), ETHERNET_HEADER + OVERSIZE_PACKET);
    let error = network.expect_error_at_a(&frame, ICMPV6_PACKET_TOO_BIG, "Packet Too Big");
    if error.code != 0 || error.field != C_MTU {
        network.fail(format_args!(
            "Packet Too Big code {} MTU {}, expected code 0 and MTU {C_MTU}, port C's (RFC 4443 §3.2)",
            error.code, error.field
        ));
    }
    network.assert_nothing_from(C, host_address(A), "the packet exceeds its MTU");
    let after = network.counters();
    assert_grew(
        network,
        &before,
        &after,
        &[(A, "packet_too_big"), (A, "icmp_packet_too_big_sent")],
    );
}

/// Step 4: a destination without a route gets Destination Unreachable code 0.
fn check_no_route(network: &Network) {
    let before = network.counters();
    let payload = echo_payload(0x7e03, 1);
    let frame = network.hosts[A].echo_request_with_hop_limit(
        router_mac(A),
        UNROUTED,
        ECHO_HOP_LIMIT,
        0x7e03,
        1,
        &payload,
    );
    let error = network.expect_error_at_a(
        &frame,
        ICMPV6_DESTINATION_UNREACHABLE,
        "Destination Unreachable",
    );
    if error.code != 0 {
        network.fail(format_args!(
            "Destination Unreachable code {}, expected 0, no route to destination (RFC 4443 §3.1)",
            error.code
        ));
    }
    let after = network.counters();
    assert_grew(
        network,
        &before,
        &after,
        &[(A, "no_route"), (A, "icmp_destination_unreachable_sent")],
    );
}

/// Step 6: after steps 1 to 4 from boot, the counters name what happened on
/// the right ports: forwarding on every ingress port, the ICMPv6 errors on
/// A's port (the ingress of the invoking packets) and on no other.
fn check_scenario_counters(network: &Network) {
    let counters = network.counters();
    let value = |index: usize, name: &str| counter(&counters, index, name);
    let mut wrong = Vec::new();
    for (index, name) in [
        (A, "forwarded"),
        (B, "forwarded"),
        (C, "forwarded"),
        (A, "icmp_time_exceeded_sent"),
        (A, "icmp_packet_too_big_sent"),
        (A, "icmp_destination_unreachable_sent"),
        (A, "hop_limit_exceeded"),
        (A, "packet_too_big"),
        (A, "no_route"),
    ] {
        if value(index, name) == 0 {
            wrong.push(format!("{} {name} is 0", PORT_NAMES[index]));
        }
    }
    for index in [B, C] {
        for name in [
            "icmp_time_exceeded_sent",
            "icmp_packet_too_big_sent",
            "icmp_destination_unreachable_sent",
            "hop_limit_exceeded",
            "packet_too_big",
            "no_route",
        ] {
            if value(index, name) != 0 {
                wrong.push(format!(
                    "{} {name} is {}",
                    PORT_NAMES[index],
                    value(index, name)
                ));
            }
        }
    }
    if !wrong.is_empty() {
        let listed: Vec<String> = counters
            .iter()
            .filter(|(_, value)| **value != 0)
            .map(|((port, name), value)| format!("{port} {name} {value}"))
            .collect();
        network.fail(format_args!(
            "after the scenario: {}; non-zero counters: {listed:?}",
            wrong.join(", ")
        ));
    }
}

/// Steps 1 to 4 and the counters (step 6) on one machine of `flavor`.
fn scenario(flavor: Flavor, test: &str) {
    let network = Network::boot(flavor);
    check_pings(&network);
    check_time_exceeded(&network);
    check_packet_too_big(&network);
    check_no_route(&network);
    check_scenario_counters(&network);
    network.shutdown(test);
}

#[test]
fn ping_crosses_the_router_both_ways() {
    let network = Network::boot(Flavor::LegacyIp);
    check_pings(&network);
    network.shutdown("ping_crosses_the_router_both_ways");
}

#[test]
fn hop_limit_one_gets_time_exceeded_from_the_ingress_address() {
    let network = Network::boot(Flavor::LegacyIp);
    check_time_exceeded(&network);
    network.shutdown("hop_limit_one_gets_time_exceeded_from_the_ingress_address");
}

#[test]
fn packet_over_the_egress_mtu_gets_packet_too_big() {
    let network = Network::boot(Flavor::LegacyIp);
    check_packet_too_big(&network);
    network.shutdown("packet_over_the_egress_mtu_gets_packet_too_big");
}

#[test]
fn destination_without_a_route_gets_destination_unreachable() {
    let network = Network::boot(Flavor::LegacyIp);
    check_no_route(&network);
    network.shutdown("destination_without_a_route_gets_destination_unreachable");
}

#[test]
fn legacy_ip_scenario_counts_forwarding_and_errors_per_port() {
    scenario(
        Flavor::LegacyIp,
        "legacy_ip_scenario_counts_forwarding_and_errors_per_port",
    );
}

#[test]
fn ipv6_only_scenario_counts_forwarding_and_errors_per_port() {
    scenario(
        Flavor::Ipv6Only,
        "ipv6_only_scenario_counts_forwarding_and_errors_per_port",
    );
}

/// What the flood sent, by kind.
#[derive(Debug, Default)]
struct FloodSent {
    /// Echo requests from A to random addresses in C's /64.
    packets_to_unknown_neighbors: usize,
    /// Solicitations on C for random targets in C's /64 (not the router's).
    solicitations_for_others: usize,
    /// Solicitations on C for the router's address from random sources in
    /// C's /64, each with a source link-layer address option (each would
    /// create a STALE entry, RFC 4861 §7.2.3).
    solicitations_from_strangers: usize,
}

/// Sends [`FLOOD_FRAMES`] frames round-robin: packets from A to random
/// addresses in C's /64 (each makes the router resolve a new neighbor),
/// solicitations for random targets, and solicitations from random
/// sources; meanwhile every port is drained by its own thread.
fn flood(network: &Network) -> FloodSent {
    let mut random = Xorshift::new(0x5eed_f100d);
    let mut sent = FloodSent::default();
    let answerers: [_; PORTS] = std::array::from_fn(|index| {
        let host = network.hosts[index];
        move |frame: &[u8]| host.answer_neighbor_solicitation(frame)
    });
    let ports: Vec<_> = (0..PORTS)
        .map(|index| (network.port(index), &answerers[index] as _))
        .collect();
    let ((), received) = while_draining(&ports, || {
        let payload = [0x46u8; 16];
        for number in 0..FLOOD_FRAMES {
            // Interface identifiers above 0xffff: never the router's ::1 or C's ::2.
            let interface = random.next_u64() | 0x1_0000;
            match number % 3 {
                0 => {
                    let frame = network.hosts[A].echo_request_with_hop_limit(
                        router_mac(A),
                        address_in_prefix(C, interface),
                        ECHO_HOP_LIMIT,
                        0xf100,
                        number as u16,
                        &payload,
                    );
                    network.send(A, &frame);
                    sent.packets_to_unknown_neighbors += 1;
                }
                1 => {
                    let frame =
                        network.hosts[C].neighbor_solicitation(address_in_prefix(C, interface));
                    network.send(C, &frame);
                    sent.solicitations_for_others += 1;
                }
                _ => {
                    let mut mac = [0x02, 0, 0, 0, 0, 0];
                    mac[1..].copy_from_slice(&interface.to_be_bytes()[3..]);
                    let stranger =
                        SimulatedHost::with_address(mac, address_in_prefix(C, interface));
                    network.send(C, &stranger.neighbor_solicitation(router_address(C)));
                    sent.solicitations_from_strangers += 1;
                }
            }
        }
        // Unresolved neighbors fail after three solicitations a second apart.
        thread::sleep(FLOOD_SETTLE);
    });
    eprintln!("flood: sent {sent:?}; frames the router sent meanwhile, by port: {received:?}");
    sent
}

#[test]
fn neighbor_flood_leaves_memory_bounded_and_the_real_neighbor_reachable() {
    let test = "neighbor_flood_leaves_memory_bounded_and_the_real_neighbor_reachable";
    let network = Network::boot(Flavor::LegacyIp);
    // C resolved and REACHABLE (its solicited advertisement), both ways.
    network.ping(A, C, 0xf1a0, 1);
    let heap_before = network.heap_used();
    let before = network.counters();

    let sent = flood(&network);

    for port in network.machine.port_sockets() {
        port.drain().expect("port socket");
    }
    network.ping(A, C, 0xf1a0, 2);
    network.ping(C, A, 0xf1a0, 3);
    let heap_after = network.heap_used();
    let after = network.counters();
    let changed = counter_changes(&before, &after);
    eprintln!("flood: heap used {heap_before} -> {heap_after} bytes; counters {changed:?}");

    if heap_after > heap_before + HEAP_GROWTH_BOUND {
        network.fail(format_args!(
            "the heap grew from {heap_before} to {heap_after} bytes during the flood (bound: +{HEAP_GROWTH_BOUND})"
        ));
    }
    // Every solicitation for someone else's address is dropped: it goes to
    // that address's solicited-node group, which the router has not joined
    // (`not_for_us`, RFC 2464 §7, RFC 4291 §2.7.1); had it reached the
    // router it would be `ndp_target_not_ours` (RFC 4861 §7.2.3).
    let not_ours = growth(&before, &after, C, "not_for_us")
        + growth(&before, &after, C, "ndp_target_not_ours");
    if not_ours < sent.solicitations_for_others as u64 * 9 / 10 {
        network.fail(format_args!(
            "only {not_ours} of {} solicitations for other targets counted as not_for_us or ndp_target_not_ours; counters {changed:?}",
            sent.solicitations_for_others
        ));
    }
    // The packets to unknown neighbors: queued and failed, or refused by a bound (RFC 6583 §7).
    assert_grew(
        &network,
        &before,
        &after,
        &[
            (C, "neighbor_solicitations_sent"),
            (C, "neighbor_resolution_failed"),
            (C, "packets_queued"),
        ],
    );
    let bounded: u64 = [
        "neighbor_solicitation_rate_limited",
        "neighbor_incomplete_limit",
        "neighbor_cache_full",
        "pending_packets_full",
    ]
    .into_iter()
    .map(|name| growth(&before, &after, A, name))
    .sum();
    if bounded == 0 {
        network.fail(format_args!(
            "{} packets to new neighbors in C's /64 and no resolution was refused by a bound; counters {changed:?}",
            sent.packets_to_unknown_neighbors
        ));
    }
    let failed = growth(&before, &after, A, "address_resolution_failed");
    if failed == 0 {
        network.fail(format_args!(
            "no queued packet was counted address_resolution_failed on A's port; counters {changed:?}"
        ));
    }
    // More strangers than the cache holds: STALE entries were evicted, or refused when the cache was full.
    let evicted = growth(&before, &after, C, "neighbor_entries_evicted");
    if evicted == 0 {
        network.fail(format_args!(
            "{} solicitations from new neighbors and no entry evicted; counters {changed:?}",
            sent.solicitations_from_strangers
        ));
    }
    network.shutdown(test);
}
