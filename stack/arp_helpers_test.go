package stack_test

import (
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// arpProtoTest is an IP protocol number reserved for experiments (RFC 3692):
// no layer of tipy handles it, so tests register their own arpCatcher.
const arpProtoTest wire.IPProtocol = 253

func arpNoProbe(c *stack.Config) { c.ARP.NoProbe = true }

// arpProbe turns the RFC 5227 probe on (newLAN turns it off by default).
func arpProbe(c *stack.Config) { c.ARP.NoProbe = false }

func arpMod(f func(*stack.ARPConfig)) func(*stack.Config) {
	return func(c *stack.Config) { f(&c.ARP) }
}

// sentARP is an ARP packet a host put on the wire.
type sentARP struct {
	at  clock.Time
	dst wire.MAC
	h   wire.ARPHeader
}

// arpSent returns the ARP packets host sent, from its link tx events.
func (l *lan) arpSent(host string) []sentARP {
	var out []sentARP
	for _, ev := range l.ev.list {
		if ev.Host != host || ev.Layer != observe.LayerLink || ev.Kind != observe.KindTX || ev.Frame == nil {
			continue
		}
		eth := wire.Ethernet(ev.Frame)
		if eth.Validate() != nil || eth.Type() != wire.EtherTypeARP {
			continue
		}
		h, err := wire.ParseARP(eth.Payload())
		if err != nil {
			l.t.Fatalf("%s sent a bad ARP packet: %v", host, err)
		}
		out = append(out, sentARP{at: clock.Time(ev.TimeNS), dst: eth.Dst(), h: h})
	}
	return out
}

// filterARP keeps the packets for which keep is true.
func filterARP(in []sentARP, keep func(sentARP) bool) []sentARP {
	var out []sentARP
	for _, p := range in {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

func arpIsRequestFor(ip string) func(sentARP) bool {
	a := netip.MustParseAddr(ip)
	return func(p sentARP) bool {
		return p.h.Op == wire.ARPRequest && p.h.TPA == a && !p.h.SPA.IsUnspecified() && p.h.SPA != p.h.TPA
	}
}

// arpCatcher records the payloads of arpProtoTest datagrams a host receives.
type arpCatcher struct{ got []string }

func (c *arpCatcher) attach(s *stack.Stack) {
	s.HandleProtocol(arpProtoTest, func(now clock.Time, d *stack.Datagram) { c.got = append(c.got, string(d.Payload)) })
}

// arpSendTest sends payload to dst as a arpProtoTest datagram (loop work).
func arpSendTest(s *stack.Stack, dst string, payload string, onErr func(error)) error {
	p := stack.NewPacket(stack.Headroom, len(payload))
	copy(p.Payload(), payload)
	return s.SendIPv4(s.Loop().Now(), netip.MustParseAddr(dst), arpProtoTest, p, &stack.SendOptions{OnError: onErr})
}

// arpRawHost is a scripted host on the LAN: a bare switch port whose frames
// the test writes itself, and which records what it receives. It answers
// ARP requests for the addresses in answer.
type arpRawHost struct {
	l      *lan
	port   *tap.Port
	mac    wire.MAC
	answer map[netip.Addr]bool
	got    [][]byte
}

func (l *lan) addARPRaw(name string, mac wire.MAC) *arpRawHost {
	r := &arpRawHost{l: l, mac: mac, answer: map[netip.Addr]bool{}}
	r.port = l.sw.AddPort(name, mac, 1500)
	r.port.SetHandler(func(f []byte) {
		f = append([]byte(nil), f...)
		r.got = append(r.got, f)
		eth := wire.Ethernet(f)
		if eth.Validate() != nil || eth.Type() != wire.EtherTypeARP {
			return
		}
		h, err := wire.ParseARP(eth.Payload())
		if err != nil || h.Op != wire.ARPRequest || !r.answer[h.TPA] {
			return
		}
		r.sendARP(h.SHA, wire.ARPHeader{Op: wire.ARPReply, SHA: r.mac, SPA: h.TPA, THA: h.SHA, TPA: h.SPA})
	})
	return r
}

// sendARP sends an ARP packet from the raw host to dst. Loop work, or from
// the test goroutine while the loop is idle.
func (r *arpRawHost) sendARP(dst wire.MAC, h wire.ARPHeader) {
	b := make([]byte, wire.EthernetHeaderLen+wire.ARPLen)
	eh := wire.EthernetHeader{Dst: dst, Src: r.mac, Type: wire.EtherTypeARP}
	if err := eh.Marshal(b); err != nil {
		r.l.t.Fatal(err)
	}
	if err := h.Marshal(b[wire.EthernetHeaderLen:]); err != nil {
		r.l.t.Fatal(err)
	}
	if err := r.port.Send(b); err != nil {
		r.l.t.Fatal(err)
	}
}

// ipv4Payloads returns the arpProtoTest payloads the raw host received for dst.
func (r *arpRawHost) ipv4Payloads(dst string) []string {
	var out []string
	a := netip.MustParseAddr(dst)
	for _, f := range r.got {
		eth := wire.Ethernet(f)
		if eth.Validate() != nil || eth.Type() != wire.EtherTypeIPv4 || eth.Dst() != r.mac {
			continue
		}
		ip := wire.IPv4(eth.Payload())
		if ip.Validate() != nil || ip.Dst() != a || ip.Protocol() != arpProtoTest {
			continue
		}
		out = append(out, string(ip.Payload()))
	}
	return out
}

// entry returns host's ARP entry for ip, if any.
func arpEntryOf(s *stack.Stack, ip string) (stack.ARPEntry, bool) {
	a := netip.MustParseAddr(ip)
	for _, e := range s.ARPTable() {
		if e.IP == a {
			return e, true
		}
	}
	return stack.ARPEntry{}, false
}

// at returns the virtual time d after the start.
func arpAt(d time.Duration) clock.Time { return clock.Time(0).Add(d) }
