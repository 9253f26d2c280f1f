package stack

import (
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// The Record Route option (RFC 791 §3.1).
//
// A sender that wants to know the path of a datagram gives it an empty
// Record Route option: a pointer and room for up to nine addresses. Each
// router that forwards the datagram writes the address of the interface it
// sends the datagram out of into the slot the pointer names and moves the
// pointer on by four; when the slots are full, the datagram goes on without
// recording (RFC 791). A host answering an echo request that carries the
// option copies it into the echo reply and records itself too (RFC 1122
// §3.2.2.6), so the routers on the way back record as well and the sender
// reads the whole round trip in the reply's header (what `ping -R` shows).
// The option is not copied into fragments after the first (its copy flag
// is clear). The source of a datagram does not record itself.

// recordRouteIn returns the bytes of the Record Route option in the header
// of the validated datagram ip (type, length, pointer, slots), aliasing ip,
// or nil when it has none.
func recordRouteIn(ip wire.IPv4) []byte {
	opts := ip.Options()
	for i := 0; i < len(opts); {
		switch t := opts[i]; t {
		case wire.IPv4OptEOL:
			return nil
		case wire.IPv4OptNOP:
			i++
		default:
			if i+1 >= len(opts) || int(opts[i+1]) < 2 || i+int(opts[i+1]) > len(opts) {
				return nil // Validate rejects this; stay safe
			}
			n := int(opts[i+1])
			if t == wire.IPv4OptRecordRoute {
				return opts[i : i+n]
			}
			i += n
		}
	}
	return nil
}

// recordRouteWrite writes addr into the next free slot of opt, a whole
// Record Route option, and moves its pointer on. It returns the slot used
// (from 1) and the number of slots, or slot 0 when every slot is taken.
func recordRouteWrite(opt []byte, addr netip.Addr) (slot, slots int) {
	if len(opt) < 3 {
		return 0, 0
	}
	length, ptr := int(opt[1]), int(opt[2])
	slots = (length - 3) / 4
	if ptr < 4 || ptr+3 > length || ptr+3 > len(opt) {
		return 0, slots
	}
	a := addr.As4()
	copy(opt[ptr-1:ptr+3], a[:])
	opt[2] = byte(ptr + 4)
	return (ptr-4)/4 + 1, slots
}

// recordRouteForward records out's address in the Record Route option of
// fwd, a datagram being forwarded through out, and fixes its checksum.
func (s *Stack) recordRouteForward(now clock.Time, fwd wire.IPv4, out *Iface) {
	opt := recordRouteIn(fwd)
	if opt == nil {
		return
	}
	addr := out.addr.Addr()
	slot, slots := recordRouteWrite(opt, addr)
	if slot > 0 {
		fwd.UpdateChecksum()
	}
	if !s.obs.Active() {
		return
	}
	f := map[string]any{"addr": addr.String(), "slot": slot, "slots": slots, "src": fwd.Src().String(), "dst": fwd.Dst().String(), "iface": out.name}
	if slot == 0 {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindInfo,
			Summary: fmt.Sprintf("Record Route option of %s > %s is full: %s not recorded", fwd.Src(), fwd.Dst(), addr),
			Explain: fmt.Sprintf("every one of the %d slots already holds an address, so the datagram goes on without this router's", slots),
			RFC:     "RFC 791 §3.1", Fields: f,
		})
		return
	}
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindInfo,
		Summary: fmt.Sprintf("recorded %s in the Record Route option of %s > %s (slot %d of %d)", addr, fwd.Src(), fwd.Dst(), slot, slots),
		Explain: fmt.Sprintf("the datagram carries a Record Route option, so this router writes the address of the interface it leaves by (%s, %s) into the next free slot and moves the pointer on by 4", out.name, addr),
		RFC:     "RFC 791 §3.1", Fields: f,
	})
}

// echoReplyOptions returns the options of the echo reply to d: its Record
// Route option, if it had one, with src (the reply's source) recorded, so
// that the recorded route covers the whole round trip (RFC 1122 §3.2.2.6).
// Other options of the request are not returned.
func (s *Stack) echoReplyOptions(now clock.Time, d *Datagram, src netip.Addr) []wire.IPv4Option {
	for _, o := range d.Header.Options {
		if o.Type != wire.IPv4OptRecordRoute {
			continue
		}
		opt := append([]byte{o.Type, byte(len(o.Data) + 2)}, o.Data...)
		slot, slots := recordRouteWrite(opt, src)
		if s.obs.Active() {
			summary := fmt.Sprintf("recorded %s in the Record Route option of the echo reply to %s (slot %d of %d)", src, d.Header.Src, slot, slots)
			explain := "the echo request carried a Record Route option: the reply carries it back with this host's address added, so that the routers on the way back record too and the sender reads the route of the whole round trip"
			if slot == 0 {
				summary = fmt.Sprintf("the Record Route option of the echo reply to %s is full: %s not recorded", d.Header.Src, src)
				explain = "the echo request carried a full Record Route option; the reply carries it back unchanged"
			}
			s.obs.Publish(observe.Event{
				TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerICMP, Kind: observe.KindInfo,
				Summary: summary, Explain: explain, RFC: "RFC 1122 §3.2.2.6",
				Fields: map[string]any{"addr": src.String(), "slot": slot, "slots": slots, "dst": d.Header.Src.String()},
			})
		}
		return []wire.IPv4Option{{Type: o.Type, Data: opt[2:]}}
	}
	return nil
}
