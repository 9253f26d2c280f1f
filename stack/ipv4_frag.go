package stack

import (
	"fmt"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// IPv4 fragmentation (RFC 791 §2.3 and §3.2, RFC 1122 §3.3.3, RFC 1812
// §5.2.6 for routers).
//
// A datagram larger than the MTU of the interface it leaves by is cut into
// fragments. Every fragment is a datagram of its own with a copy of the
// header, the same Identification, and a Fragment Offset saying where its
// data belongs, in 8-byte units. So every fragment but the last carries a
// multiple of 8 data bytes, and all but the last have More Fragments (MF)
// set. The first fragment carries every option; later ones carry only the
// options whose copy flag (the high bit of the option type) is set, so their
// headers may be shorter and hold more data.
//
// A router may have to cut a fragment again (a 1500-byte fragment entering a
// 576-byte link). Then the offsets of the pieces add to the offset of the
// fragment, and the last piece keeps MF if the fragment had it: to the
// destination the pieces are simply smaller fragments of the original
// datagram.

// fragmentAndSend cuts the datagram made of header h and the transport bytes
// in p (which hold no IPv4 header) into fragments that fit the MTU of the
// next hop's interface and sends each through transmit. h may itself be the
// header of a fragment being forwarded. p is not sent; each fragment is a new
// packet with its own headroom.
func (s *Stack) fragmentAndSend(now clock.Time, nh nextHop, h *wire.IPv4Header, p *Packet, o *SendOptions) error {
	if o == nil {
		o = &SendOptions{}
	}
	ifc := nh.route.Iface
	mtu := ifc.mtu
	data := p.Bytes()
	if h.DontFragment() {
		return sockErr("send", h.Dst.String(), EMSGSIZE, fmt.Sprintf("%d bytes exceed the MTU %d of %s and DF is set", h.HeaderLen()+len(data), mtu, ifc.name))
	}
	plan, err := planFragments(h, len(data), mtu)
	if err != nil {
		return sockErr("send", h.Dst.String(), EMSGSIZE, err.Error())
	}
	if s.obs.Active() {
		s.publishFragmenting(now, h, len(data), mtu, ifc, plan)
	}
	for i, f := range plan.frags {
		fh := *h
		fh.FragOff = h.FragOff + f.off
		fh.Flags = h.Flags &^ wire.IPv4FlagMF
		if i < len(plan.frags)-1 || h.More() {
			fh.Flags |= wire.IPv4FlagMF
		}
		if !f.first {
			fh.Options = plan.copied
		}
		hl := fh.HeaderLen()
		fp := NewPacket(wire.EthernetHeaderLen+hl, f.n)
		copy(fp.Payload(), data[f.off:f.off+f.n])
		if err := fh.Marshal(fp.Prepend(hl)); err != nil {
			return fmt.Errorf("ipv4 fragment %d of %d: %w", i+1, len(plan.frags), err)
		}
		if err := s.transmit(now, nh, &fh, fp, o); err != nil {
			return err
		}
	}
	return nil
}

// fragPlan is how a datagram is cut: the pieces and the options of the
// fragments after the first.
type fragPlan struct {
	frags  []fragPiece
	copied []wire.IPv4Option // the options with the copy flag set
	hl1    int               // header length of the first fragment
	hlN    int               // header length of the later fragments
}

// fragPiece is one fragment's share of the data.
type fragPiece struct {
	off, n int  // offset and length in the data being cut
	first  bool // carries every option (offset 0 of the original datagram)
}

// planFragments cuts n data bytes behind header h into pieces for mtu. It
// fails when a fragment could not carry even 8 data bytes.
func planFragments(h *wire.IPv4Header, n, mtu int) (fragPlan, error) {
	var plan fragPlan
	for _, o := range h.Options {
		if o.Copied() {
			plan.copied = append(plan.copied, o)
		}
	}
	later := wire.IPv4Header{Options: plan.copied}
	plan.hlN = later.HeaderLen()
	plan.hl1 = h.HeaderLen()
	// A fragment of a fragment (being forwarded) is never the first piece of
	// the original datagram unless its offset is 0.
	firstAll := h.FragOff == 0
	if !firstAll {
		plan.hl1 = plan.hlN
	}
	room1 := (mtu - plan.hl1) &^ 7
	roomN := (mtu - plan.hlN) &^ 7
	if room1 < 8 || roomN < 8 {
		return plan, fmt.Errorf("an MTU of %d leaves %d bytes after the %d-byte header: a fragment must carry at least 8 (RFC 791 §3.2)", mtu, mtu-plan.hl1, plan.hl1)
	}
	k := 1
	if n > room1 {
		k += (n - room1 + roomN - 1) / roomN
	}
	plan.frags = make([]fragPiece, 0, k)
	for off := 0; ; {
		room := roomN
		if off == 0 {
			room = room1
		}
		size := min(room, n-off)
		plan.frags = append(plan.frags, fragPiece{off: off, n: size, first: off == 0 && firstAll})
		if off += size; off >= n {
			break
		}
	}
	return plan, nil
}

// publishFragmenting tells what fragmentation is about to do and why.
func (s *Stack) publishFragmenting(now clock.Time, h *wire.IPv4Header, n, mtu int, ifc *Iface, plan fragPlan) {
	offsets := make([]int, len(plan.frags))
	sizes := make([]int, len(plan.frags))
	for i, f := range plan.frags {
		offsets[i] = h.FragOff + f.off
		sizes[i] = f.n
	}
	explain := fmt.Sprintf("the %d-byte datagram does not fit the %d-byte MTU of %s, so it is cut into fragments that share the identification %d; "+
		"each carries a multiple of 8 data bytes (the offset counts 8-byte units) and all but the last have More Fragments set",
		h.HeaderLen()+n, mtu, ifc.name, h.ID)
	if plan.hl1 != plan.hlN {
		explain += fmt.Sprintf("; only options with the copy flag set are repeated after the first fragment, so its header is %d bytes and the others' %d", plan.hl1, plan.hlN)
	}
	if h.IsFragment() {
		explain += fmt.Sprintf("; the datagram is itself a fragment (offset %d, MF %v), so the offsets add to its own and the last piece keeps its MF flag", h.FragOff, h.More())
	}
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindInfo,
		Summary: fmt.Sprintf("fragmenting %d bytes into %d fragments for MTU %d (%s > %s id %d)", n, len(plan.frags), mtu, h.Src, h.Dst, h.ID),
		Explain: explain,
		RFC:     "RFC 791 §3.2",
		Fields: map[string]any{
			"src": h.Src.String(), "dst": h.Dst.String(), "id": h.ID, "proto": uint8(h.Protocol),
			"bytes": n, "mtu": mtu, "iface": ifc.name, "fragments": len(plan.frags),
			"offsets": offsets, "sizes": sizes, "header_first": plan.hl1, "header_later": plan.hlN,
		},
	})
}
