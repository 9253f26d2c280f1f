package stack

// Reason names why the stack discarded something. Every drop is counted
// under its reason and published as an event carrying the reason's name.
type Reason uint16

// Drop reasons, grouped by layer.
const (
	ReasonNone Reason = iota

	// Link layer (Ethernet II).
	ReasonEthTruncated   // shorter than an Ethernet header
	ReasonEthNotForUs    // destination is neither our MAC, broadcast, nor a joined group
	ReasonEthOwnSource   // a frame claiming our own MAC as source (looped back)
	ReasonEthUnknownType // an EtherType no layer of tipy handles
	ReasonEthTooBig      // a frame to send is larger than the link MTU allows
	ReasonLinkError      // the link refused a frame

	// IPv4.
	ReasonIPTruncated       // shorter than its header or total length says
	ReasonIPMalformed       // a header field or option is invalid
	ReasonIPBadChecksum     // the header checksum does not verify
	ReasonIPBadSource       // a broadcast or multicast source address
	ReasonIPNotForUs        // addressed to another host and not forwarding
	ReasonIPNotMember       // a multicast group not joined on the interface
	ReasonIPSourceRoute     // LSRR/SSRR refused by policy
	ReasonIPUnknownProtocol // no handler and no raw socket for the protocol
	ReasonIPTTLExceeded     // forwarding: TTL would reach zero
	ReasonIPNoRoute         // forwarding: no route to the destination
	ReasonIPNeedFrag        // forwarding: too big for the next hop and DF set
	ReasonIPFragOverlap     // reassembly: overlapping fragment, by policy
	ReasonIPFragTooBig      // reassembly: more than 65535 bytes
	ReasonIPFragMemory      // reassembly: the memory cap is reached
	ReasonIPFragTimeout     // reassembly: not complete in time
	ReasonIPAddrTentative   // our address is still being probed (RFC 5227)
	ReasonIPFragDuplicate   // reassembly: a fragment we already hold

	// ARP.
	ReasonARPMalformed  // not an Ethernet/IPv4 ARP packet
	ReasonARPNotForUs   // a request for another host's address
	ReasonARPBadSender  // a sender address that no host may have
	ReasonARPConflict   // another host claims our address
	ReasonARPQueueFull  // the queue of datagrams waiting for resolution is full
	ReasonARPUnresolved // resolution failed: the datagrams that waited are dropped
	ReasonARPCacheFull  // the cache is full and no entry could be evicted
	ReasonARPTentative  // ARP for our address while it is tentative or in conflict

	// ICMP.
	ReasonICMPMalformed     // too short or a bad type/code structure
	ReasonICMPBadChecksum   // the ICMP checksum does not verify
	ReasonICMPRateLimited   // an error message we would send is over the rate limit
	ReasonICMPNoError       // an error we must not send (about an error, a broadcast, ...)
	ReasonICMPUnmatched     // an error or reply that matches no socket or ping
	ReasonICMPEchoBroadcast // an echo request to a broadcast or multicast address, ignored
	ReasonICMPIgnored       // source quench, redirects: received and deliberately not acted on

	// UDP and raw sockets.
	ReasonUDPMalformed   // shorter than its header or its length field says
	ReasonUDPBadChecksum // the UDP checksum does not verify
	ReasonUDPNoSocket    // no socket is bound to the destination port
	ReasonSockQueueFull  // the socket's receive queue is full
	ReasonIGMPMalformed  // an IGMP message that does not parse or verify

	// TCP (tcp_events.go explains each in its drop events).
	ReasonTCPMalformed
	ReasonTCPBadChecksum
	ReasonTCPNotUnicast
	ReasonTCPNoSocket
	ReasonTCPRSTClosed
	ReasonTCPOutOfWindow
	ReasonTCPPAWS
	ReasonTCPBadACK
	ReasonTCPNoACK
	ReasonTCPRSTInvalid
	ReasonTCPChallengeLimit
	ReasonTCPAfterFIN
	ReasonTCPReadShut
	ReasonTCPOOOFull
	ReasonTCPRcvBufFull
	ReasonTCPSYNQueueFull

	numReasons
)

var reasonInfo = [numReasons]struct {
	name    string
	explain string
}{
	ReasonNone:           {"none", ""},
	ReasonEthTruncated:   {"eth-truncated", "the frame is shorter than the 14-byte Ethernet II header"},
	ReasonEthNotForUs:    {"eth-not-for-us", "the destination MAC is not ours, not broadcast and not a multicast group we joined, so the frame was meant for another host"},
	ReasonEthOwnSource:   {"eth-own-source", "the source MAC is our own: a frame of ours came back, which a host ignores"},
	ReasonEthUnknownType: {"eth-unknown-type", "no protocol of this host handles the frame's EtherType"},
	ReasonEthTooBig:      {"eth-too-big", "the frame is larger than the link's MTU allows"},
	ReasonLinkError:      {"link-error", "the link refused to send the frame"},

	ReasonIPTruncated:       {"ip-truncated", "the datagram is shorter than its header length or total length says (RFC 791 §3.1)"},
	ReasonIPMalformed:       {"ip-malformed", "a header field or option has a value IPv4 does not allow (RFC 791 §3.1, RFC 1122 §3.2.1)"},
	ReasonIPBadChecksum:     {"ip-bad-checksum", "the header checksum does not verify, so the header was damaged on the way and cannot be trusted (RFC 1122 §3.2.1.2)"},
	ReasonIPBadSource:       {"ip-bad-source", "the source address is a broadcast or multicast address, which no datagram may come from (RFC 1122 §3.2.1.3)"},
	ReasonIPNotForUs:        {"ip-not-for-us", "the destination is another host and this host does not forward (RFC 1122 §3.3.4)"},
	ReasonIPNotMember:       {"ip-not-member", "the datagram is for a multicast group this interface has not joined (RFC 1112 §7.2)"},
	ReasonIPSourceRoute:     {"ip-source-route", "the datagram carries a source route option, which this host refuses by policy (RFC 1122 §3.3.5)"},
	ReasonIPUnknownProtocol: {"ip-unknown-protocol", "no layer and no raw socket of this host handles the datagram's protocol, so the sender gets ICMP protocol unreachable (RFC 1122 §3.2.2.1)"},
	ReasonIPTTLExceeded:     {"ip-ttl-exceeded", "the TTL would reach zero, so the router discards the datagram and sends ICMP time exceeded (RFC 1812 §5.3.1)"},
	ReasonIPNoRoute:         {"ip-no-route", "the router has no route to the destination and sends ICMP destination unreachable (RFC 1812 §5.2.7.1)"},
	ReasonIPNeedFrag:        {"ip-need-frag", "the datagram is larger than the next link's MTU and may not be fragmented, so the sender gets ICMP fragmentation needed (RFC 1191)"},
	ReasonIPFragOverlap:     {"ip-frag-overlap", "a fragment overlaps data already received; tipy drops the whole datagram, as RFC 5722 asks for IPv6, because overlaps are how attacks hide data"},
	ReasonIPFragTooBig:      {"ip-frag-too-big", "the fragments would make a datagram larger than 65535 bytes (RFC 791 §3.2)"},
	ReasonIPFragMemory:      {"ip-frag-memory", "reassembly memory is full, so the oldest incomplete datagram was given up (RFC 815)"},
	ReasonIPFragTimeout:     {"ip-frag-timeout", "not every fragment arrived before the reassembly timer ran out (RFC 791 §3.2, RFC 1122 §3.3.2)"},
	ReasonIPAddrTentative:   {"ip-addr-tentative", "the address is still being probed for conflicts, so the host may not use it yet (RFC 5227 §2.1)"},
	ReasonIPFragDuplicate:   {"ip-frag-duplicate", "a fragment with exactly the bytes already held for that part of the datagram: a copy, so it adds nothing (RFC 815)"},

	ReasonARPMalformed:  {"arp-malformed", "the ARP packet is truncated or not for Ethernet and IPv4 (RFC 826)"},
	ReasonARPNotForUs:   {"arp-not-for-us", "a request asks for another host's address; only that host answers (RFC 826)"},
	ReasonARPBadSender:  {"arp-bad-sender", "the sender's address is a broadcast, multicast or otherwise impossible address, which must not enter the cache"},
	ReasonARPConflict:   {"arp-conflict", "another host uses our IPv4 address (RFC 5227 §2.4)"},
	ReasonARPQueueFull:  {"arp-queue-full", "too many datagrams already wait for this neighbour's MAC address, so the oldest is dropped (RFC 1122 §2.3.2.2)"},
	ReasonARPUnresolved: {"arp-unresolved", "no ARP reply came after every retry, so the datagrams waiting for it are dropped and the sender gets EHOSTUNREACH"},
	ReasonARPCacheFull:  {"arp-cache-full", "the ARP cache is at its size limit and holds no entry that may be evicted"},
	ReasonARPTentative:  {"arp-addr-tentative", "the packet concerns our address while it is still being probed or is in conflict, so the host does not answer for it (RFC 5227 §2.1)"},

	ReasonICMPMalformed:     {"icmp-malformed", "the ICMP message is shorter than its type requires (RFC 792)"},
	ReasonICMPBadChecksum:   {"icmp-bad-checksum", "the ICMP checksum does not verify, so the message was damaged (RFC 792)"},
	ReasonICMPRateLimited:   {"icmp-rate-limited", "an ICMP error was not sent because errors are rate-limited (RFC 1812 §4.3.2.8)"},
	ReasonICMPNoError:       {"icmp-no-error", "no ICMP error may be sent about an ICMP error, a broadcast or multicast, or a non-first fragment (RFC 1122 §3.2.2)"},
	ReasonICMPUnmatched:     {"icmp-unmatched", "the ICMP message matches no socket or outstanding ping"},
	ReasonICMPEchoBroadcast: {"icmp-echo-broadcast", "an echo request to a broadcast or multicast address is ignored, as Linux does by default, so that one packet cannot make every host answer at once (RFC 1122 §3.2.2.6 allows this)"},
	ReasonICMPIgnored:       {"icmp-ignored", "a message the host receives but deliberately does not act on: source quench is deprecated (RFC 6633) and a host does not let redirects change its routes here"},

	ReasonUDPMalformed:   {"udp-malformed", "the UDP length field disagrees with the datagram (RFC 768)"},
	ReasonUDPBadChecksum: {"udp-bad-checksum", "the UDP checksum does not verify, so the datagram was damaged (RFC 768, RFC 1122 §4.1.3.4)"},
	ReasonUDPNoSocket:    {"udp-no-socket", "no socket listens on the destination port, so the sender gets ICMP port unreachable (RFC 1122 §4.1.3.1)"},
	ReasonSockQueueFull:  {"sock-queue-full", "the socket's receive buffer is full: the program is not reading fast enough"},
	ReasonIGMPMalformed:  {"igmp-malformed", "the IGMP message is truncated or its checksum does not verify (RFC 2236)"},

	ReasonTCPMalformed:      {"tcp-malformed", "the TCP header or its options do not parse (RFC 9293 §3.1)"},
	ReasonTCPBadChecksum:    {"tcp-bad-checksum", "the TCP checksum over the pseudo-header, header and data does not verify, so the segment was damaged (RFC 9293 §3.1)"},
	ReasonTCPNotUnicast:     {"tcp-not-unicast", "TCP is for unicast addresses only; a segment to a broadcast or multicast address is discarded (RFC 1122 §4.2.3.10)"},
	ReasonTCPNoSocket:       {"tcp-no-socket", "no connection and no listener on the destination port: the port is closed, so the sender gets a reset (RFC 9293 §3.10.7.1)"},
	ReasonTCPRSTClosed:      {"tcp-rst-closed", "a reset to a closed port is discarded: a reset is never answered (RFC 9293 §3.10.7.1)"},
	ReasonTCPOutOfWindow:    {"tcp-out-of-window", "the segment lies outside the receive window, so it is an old duplicate or forged; it is answered with an ACK and discarded (RFC 9293 §3.10.7.4)"},
	ReasonTCPPAWS:           {"tcp-paws", "the segment's timestamp is older than the latest one seen, so it is an old duplicate from an earlier trip around the sequence space (RFC 7323 §5)"},
	ReasonTCPBadACK:         {"tcp-bad-ack", "the acknowledgment number acknowledges nothing we sent, or is far too old (RFC 9293 §3.10.7, RFC 5961 §5)"},
	ReasonTCPNoACK:          {"tcp-no-ack", "a segment without the ACK bit (or without SYN or RST where one is needed) is discarded in this state (RFC 9293 §3.10.7.4)"},
	ReasonTCPRSTInvalid:     {"tcp-rst-ignored", "a reset that cannot belong to the connection is ignored (RFC 9293 §3.10.7)"},
	ReasonTCPChallengeLimit: {"tcp-challenge-limit", "a challenge ACK was due but the per-second limit was reached (RFC 5961 §7)"},
	ReasonTCPAfterFIN:       {"tcp-data-after-fin", "data beyond the peer's FIN cannot be taken: the peer said it had no more (RFC 9293 §3.10.7.4)"},
	ReasonTCPReadShut:       {"tcp-read-shut", "the application shut down reading (SHUT_RD): data is acknowledged and discarded, as Linux does"},
	ReasonTCPOOOFull:        {"tcp-ooo-full", "the out-of-order queue cannot hold the segment (too many separate ranges or beyond its room)"},
	ReasonTCPRcvBufFull:     {"tcp-rcvbuf-full", "the receive buffer is full: the application is not reading fast enough"},
	ReasonTCPSYNQueueFull:   {"tcp-syn-queue-full", "the listener's accept queue is full (its backlog), or its SYN queue with SYN cookies off, so the SYN is dropped and the client will retransmit it (RFC 4987)"},
}

// String returns the reason's short name, as used in events and counters.
func (r Reason) String() string {
	if r < numReasons {
		return reasonInfo[r].name
	}
	return "unknown"
}

// Explain returns the reason in plain words.
func (r Reason) Explain() string {
	if r < numReasons {
		return reasonInfo[r].explain
	}
	return ""
}
