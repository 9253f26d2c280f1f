package stack

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// ARP, the Address Resolution Protocol (RFC 826), with the host requirements
// of RFC 1122 §2.3.2 and address conflict detection of RFC 5227.
//
// Each interface has its own cache (arp_cache.go). Resolving a next hop
// creates an incomplete entry, queues the datagrams for it (arp_queue.go)
// and broadcasts a request; the reply makes the entry reachable and releases
// the queue in order. No reply after Retries requests makes the entry failed
// for FailedHold. The interface's own address is probed before use and
// defended afterwards (arp_probe.go).
//
// Receiving follows the packet reception algorithm of RFC 826 ("merge"):
//
//  1. A packet whose sender IP is in the cache updates that entry
//     (merge_flag), whether or not the packet is for us.
//  2. If the target IP is ours and the sender was not in the cache, the
//     sender is added: it is about to talk to us.
//  3. A request for our address is answered, unicast to the requester.
//
// Before that, RFC 5227 checks every packet for a sender claiming our
// address (a conflict), and packets that no host may send are dropped.

// ARPConfig tunes ARP. Zero fields take the defaults given with each field,
// so the zero value is a working configuration.
type ARPConfig struct {
	ReachableTime    time.Duration // a confirmed entry turns stale after this; default 30s
	Retries          int           // requests sent before giving up; default 3
	RetryInterval    time.Duration // time between requests, and after the last one; default 1s
	FailedHold       time.Duration // a failed entry refuses datagrams this long; default 20s
	MaxEntries       int           // dynamic entries per interface; default 256
	QueuePerNeighbor int           // datagrams waiting for one neighbour; default 16
	QueueTotal       int           // datagrams waiting for all neighbours of the stack; default 256

	// NoProbe skips RFC 5227 probing: the address is usable at once and
	// is not announced. The zero value probes, as RFC 5227 §2.1 asks.
	NoProbe          bool
	ProbeWait        time.Duration // random delay before the first probe, 0..ProbeWait; default 1s (PROBE_WAIT)
	ProbeNum         int           // probes sent; default 3 (PROBE_NUM)
	ProbeMin         time.Duration // least spacing of probes; default 1s (PROBE_MIN)
	ProbeMax         time.Duration // greatest spacing of probes; default 2s (PROBE_MAX)
	AnnounceWait     time.Duration // wait after the last probe; default 2s (ANNOUNCE_WAIT)
	AnnounceNum      int           // announcements sent; default 2 (ANNOUNCE_NUM)
	AnnounceInterval time.Duration // spacing of announcements; default 2s (ANNOUNCE_INTERVAL)
	DefendInterval   time.Duration // least time between two defences; default 10s (DEFEND_INTERVAL)
}

// withDefaults returns c with every zero or negative field set to its default.
func (c ARPConfig) withDefaults() ARPConfig {
	dur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	num := func(n *int, def int) {
		if *n <= 0 {
			*n = def
		}
	}
	dur(&c.ReachableTime, 30*time.Second)
	num(&c.Retries, 3)
	dur(&c.RetryInterval, time.Second)
	dur(&c.FailedHold, 20*time.Second)
	num(&c.MaxEntries, 256)
	num(&c.QueuePerNeighbor, 16)
	num(&c.QueueTotal, 256)
	dur(&c.ProbeWait, time.Second)
	num(&c.ProbeNum, 3)
	dur(&c.ProbeMin, time.Second)
	dur(&c.ProbeMax, 2*time.Second)
	if c.ProbeMax < c.ProbeMin {
		c.ProbeMax = c.ProbeMin
	}
	dur(&c.AnnounceWait, 2*time.Second)
	num(&c.AnnounceNum, 2)
	dur(&c.AnnounceInterval, 2*time.Second)
	dur(&c.DefendInterval, 10*time.Second)
	return c
}

// arpLayer is the ARP part of a Stack: the configuration with defaults
// applied, the per-interface state, and the stack-wide queue count.
type arpLayer struct {
	s      *Stack
	cfg    ARPConfig
	ifs    []*arpIface // by Iface.index; created on first use
	queued int         // datagrams waiting for resolution on all interfaces
	qseq   uint64      // arrival order of queued datagrams, for "drop the oldest"
}

// ARPSettings returns the ARP configuration in effect, defaults filled in.
func (s *Stack) ARPSettings() ARPConfig { return s.arp().cfg }

// arp returns the stack's ARP state.
func (s *Stack) arp() *arpLayer { return s.arpl }

// initARP sets up the ARP layer: the EtherType 0x0806 handler, and, once
// the loop runs, the probing of every interface's address.
func (s *Stack) initARP() {
	l := &arpLayer{s: s, cfg: s.cfg.ARP.withDefaults()}
	s.arpl = l
	s.Handle(wire.EtherTypeARP, l.input)
	// Each interface's ARP state (and the probe of its address) starts when
	// AddInterface adds it; see iface.
}

// iface returns the ARP state of ifc, creating it (and starting the probe
// of its address) on first use.
func (l *arpLayer) iface(ifc *Iface) *arpIface {
	for len(l.ifs) <= ifc.index {
		l.ifs = append(l.ifs, nil)
	}
	a := l.ifs[ifc.index]
	if a == nil || a.ifc != ifc {
		a = newARPIface(l, ifc)
		l.ifs[ifc.index] = a
		a.start(l.s.loop.Now())
	}
	return a
}

// arpIface is the ARP state of one interface: its cache and the state of
// its own address (RFC 5227).
type arpIface struct {
	l     *arpLayer
	ifc   *Iface
	cache map[netip.Addr]*arpEntry
	dyn   int // entries that count against MaxEntries (all but static)
	addr  addrClaim
	dad   []*addrProbe // probes of other addresses (arp_dad.go)
}

// input is the EtherType 0x0806 handler: RFC 826's packet reception.
func (l *arpLayer) input(now clock.Time, ifc *Iface, frame wire.Ethernet) {
	s := l.s
	a := l.iface(ifc)
	pkt := wire.ARP(frame.Payload())
	if err := pkt.Validate(); err != nil {
		s.drop(now, observe.LayerARP, ReasonARPMalformed, frame, err.Error())
		return
	}
	h := wire.ARPHeader{Op: pkt.Op(), SHA: pkt.SHA(), SPA: pkt.SPA(), THA: pkt.THA(), TPA: pkt.TPA()}
	if s.obs.Active() {
		s.publishARPPacket(now, observe.KindRX, ifc, &h, "received "+h.String(), rxExplain(&h, ifc))
	}
	if why := a.badSender(&h); why != "" {
		s.drop(now, observe.LayerARP, ReasonARPBadSender, frame, why)
		return
	}
	// RFC 5227: a packet claiming an address we probe for before taking
	// it (arp_dad.go), or our own address from another host, or another host
	// probing for the address we are probing for.
	if a.dadInput(now, &h) {
		return
	}
	if a.checkConflict(now, &h, frame) {
		return
	}
	own := ifc.addr.Addr()
	gratuitous := h.SPA == h.TPA
	merged := false
	if e := a.cache[h.SPA]; e != nil && !h.SPA.IsUnspecified() {
		merged = true
		a.merge(now, e, h.SHA, gratuitous)
	}
	if gratuitous {
		// A gratuitous ARP (an announcement of its sender) only refreshes
		// an entry we already have: like Linux with arp_accept=0, a host
		// does not fill its cache with every neighbour that announces.
		if !merged && s.obs.Active() {
			s.arpEvent(now, ifc, observe.KindInfo,
				fmt.Sprintf("gratuitous ARP from %s (%s) ignored: not in the cache", h.SPA, h.SHA),
				"a gratuitous ARP announces the sender's own address to everyone; tipy uses it only to update an entry it already has (as Linux does with arp_accept=0), so announcements cannot fill the cache",
				"RFC 5227 §3",
				map[string]any{"ip": h.SPA.String(), "mac": h.SHA.String(), "gratuitous": true})
		}
		return
	}
	if h.TPA != own {
		if !merged {
			detail := fmt.Sprintf("who-has %s from %s", h.TPA, h.SPA)
			if h.Op == wire.ARPReply {
				detail = fmt.Sprintf("reply %s is-at %s for %s", h.SPA, h.SHA, h.TPA)
			}
			s.drop(now, observe.LayerARP, ReasonARPNotForUs, frame, detail)
		}
		return
	}
	if !ifc.addrUsable() {
		// Our address is tentative or in conflict: it is not ours to
		// answer for, nor to learn from.
		s.drop(now, observe.LayerARP, ReasonARPTentative, frame,
			fmt.Sprintf("%s for %s, which is %s", h.Op, own, a.addr.state))
		return
	}
	if !merged && !h.SPA.IsUnspecified() {
		a.learn(now, h.SPA, h.SHA)
	}
	if h.Op == wire.ARPRequest {
		a.sendReply(now, &h)
	}
}

// badSender says why no host may have sent h, or returns "".
func (a *arpIface) badSender(h *wire.ARPHeader) string {
	switch {
	case h.SHA.IsMulticast() || h.SHA == wire.ZeroMAC:
		return fmt.Sprintf("sender hardware address %s is not a unicast MAC", h.SHA)
	case h.SHA == a.ifc.mac:
		return fmt.Sprintf("sender hardware address %s is our own", h.SHA)
	case h.SPA.IsUnspecified():
		// Only an RFC 5227 probe comes from 0.0.0.0: a request with a target.
		if h.Op != wire.ARPRequest || h.TPA.IsUnspecified() {
			return "sender 0.0.0.0 in a packet that is not a probe"
		}
	case h.SPA.IsMulticast() || h.SPA == limitedBroadcast || a.ifc.isBroadcast(h.SPA) || h.SPA.IsLoopback():
		return fmt.Sprintf("sender protocol address %s is not a unicast host address", h.SPA)
	}
	return ""
}

// rxExplain says in words what a received ARP packet means.
func rxExplain(h *wire.ARPHeader, ifc *Iface) string {
	switch {
	case h.Op == wire.ARPRequest && h.SPA.IsUnspecified():
		return fmt.Sprintf("an ARP probe: a host checks whether anyone already uses %s before taking it (sender IP 0.0.0.0)", h.TPA)
	case h.SPA == h.TPA:
		return fmt.Sprintf("a gratuitous ARP: %s announces that it is at %s", h.SPA, h.SHA)
	case h.Op == wire.ARPRequest && h.TPA == ifc.addr.Addr():
		return fmt.Sprintf("%s asks for our MAC address; it also tells us its own, %s", h.SPA, h.SHA)
	case h.Op == wire.ARPRequest:
		return fmt.Sprintf("%s asks who has %s; requests are broadcast, so every host sees them", h.SPA, h.TPA)
	default:
		return fmt.Sprintf("%s answers that it is at %s", h.SPA, h.SHA)
	}
}

// sendARP builds an ARP packet and sends it to dst on the interface.
func (a *arpIface) sendARP(now clock.Time, dst wire.MAC, h *wire.ARPHeader, summary, explain, rfc string) error {
	ifc, s := a.ifc, a.l.s
	p := NewPacket(wire.EthernetHeaderLen, wire.ARPLen)
	if err := h.Marshal(p.Payload()); err != nil {
		return err
	}
	if s.obs.Active() {
		f := arpFields(h)
		f["iface"] = ifc.name
		f["eth_dst"] = dst.String()
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerARP, Kind: observe.KindTX,
			Summary: summary, Explain: explain, RFC: rfc, Fields: f,
		})
	}
	return ifc.SendFrame(now, dst, wire.EtherTypeARP, p)
}

// sendRequest asks who has ip: broadcast, or unicast to mac when the
// request revalidates an entry we have.
func (a *arpIface) sendRequest(now clock.Time, ip netip.Addr, unicast wire.MAC, attempt int) error {
	ifc := a.ifc
	if !ifc.addrUsable() {
		return sockErr("arp", ip.String(), EADDRNOTAVAIL,
			fmt.Sprintf("cannot ask for %s: our address %s is %s", ip, ifc.addr.Addr(), a.addr.state))
	}
	h := wire.ARPHeader{Op: wire.ARPRequest, SHA: ifc.mac, SPA: ifc.addr.Addr(), TPA: ip}
	dst := wire.BroadcastMAC
	if unicast != wire.ZeroMAC {
		dst = unicast
	}
	var summary, explain string
	if a.l.s.obs.Active() { // words only for a listener
		summary = "sent " + h.String()
		explain = fmt.Sprintf("we need the MAC address of %s to send it a datagram, so we ask every host on the link; only %s answers (attempt %d of %d)", ip, ip, attempt, a.l.cfg.Retries)
		if unicast != wire.ZeroMAC {
			explain = fmt.Sprintf("the entry for %s is stale, so we check it is still at %s with a request sent straight to that MAC", ip, unicast)
		}
	}
	return a.sendARP(now, dst, &h, summary, explain, "RFC 826")
}

// sendReply answers a request for our address, unicast to the requester.
func (a *arpIface) sendReply(now clock.Time, req *wire.ARPHeader) {
	ifc := a.ifc
	h := wire.ARPHeader{Op: wire.ARPReply, SHA: ifc.mac, SPA: ifc.addr.Addr(), THA: req.SHA, TPA: req.SPA}
	var summary, explain string
	if a.l.s.obs.Active() {
		summary = "sent " + h.String()
		explain = fmt.Sprintf("%s asked for our address, so we tell it our MAC, sent straight to its MAC %s", req.SPA, req.SHA)
		if req.SPA.IsUnspecified() {
			explain = fmt.Sprintf("a host at %s probed for %s, our address: the reply tells it the address is taken", req.SHA, req.TPA)
		}
	}
	if err := a.sendARP(now, req.SHA, &h, summary, explain, "RFC 826"); err != nil {
		a.l.s.arpEvent(now, ifc, observe.KindError, "ARP reply not sent: "+err.Error(), "", "", nil)
	}
}

// publishARPPacket publishes an rx event for a received ARP packet.
func (s *Stack) publishARPPacket(now clock.Time, kind observe.Kind, ifc *Iface, h *wire.ARPHeader, summary, explain string) {
	f := arpFields(h)
	f["iface"] = ifc.name
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerARP, Kind: kind,
		Summary: summary, Explain: explain, RFC: "RFC 826", Fields: f,
	})
}

// arpEvent publishes an ARP event when someone listens.
func (s *Stack) arpEvent(now clock.Time, ifc *Iface, kind observe.Kind, summary, explain, rfc string, fields map[string]any) {
	if !s.obs.Active() {
		return
	}
	if fields == nil {
		fields = map[string]any{}
	}
	fields["iface"] = ifc.name
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerARP, Kind: kind,
		Summary: summary, Explain: explain, RFC: rfc, Fields: fields,
	})
}

func arpFields(h *wire.ARPHeader) map[string]any {
	return map[string]any{
		"op": h.Op.String(), "sha": h.SHA.String(), "spa": h.SPA.String(),
		"tha": h.THA.String(), "tpa": h.TPA.String(),
	}
}
