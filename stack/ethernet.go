package stack

import (
	"fmt"
	"strconv"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Ethernet II (IEEE 802.3 clause 3.2.6, RFC 894 for IPv4 over Ethernet).
//
// Receiving, a host keeps a frame when its destination is the host's own
// MAC, the broadcast address, or a multicast group the host has joined
// (RFC 1112 §6.4 maps IPv4 groups to 01:00:5e:xx:xx:xx); everything else is
// another host's traffic that a switch flooded to us. It then hands the frame
// to the protocol named by the EtherType.

// Handle registers the function that receives frames of EtherType t.
// The protocol layers register themselves when the stack is built.
func (s *Stack) Handle(t wire.EtherType, f func(now clock.Time, ifc *Iface, frame wire.Ethernet)) {
	s.handlers[t] = f
	if t == wire.EtherTypeIPv4 {
		s.dp.ipv4 = f
	}
}

// input processes one frame received on ifc at time now.
func (s *Stack) input(now clock.Time, ifc *Iface, frame []byte) {
	s.stats.FramesIn++
	s.stats.BytesIn += uint64(len(frame))
	eth := wire.Ethernet(frame)
	if err := eth.Validate(); err != nil {
		s.drop(now, observe.LayerLink, ReasonEthTruncated, frame, err.Error())
		return
	}
	dst, src := eth.Dst(), eth.Src()
	if !ifc.Accepts(dst) {
		var detail string
		if s.obs.Active() {
			detail = notForUsDetail(eth)
		}
		s.drop(now, observe.LayerLink, ReasonEthNotForUs, frame, detail)
		return
	}
	if src == ifc.mac {
		s.drop(now, observe.LayerLink, ReasonEthOwnSource, frame, "")
		return
	}
	h := s.handler(eth.Type())
	if h == nil {
		s.drop(now, observe.LayerLink, ReasonEthUnknownType, frame, fmt.Sprintf("EtherType %s", eth.Type()))
		return
	}
	if s.obs.Active() {
		s.publishFrame(now, observe.KindRX, frame, "received")
	}
	h(now, ifc, eth)
}

// notForUsDetail says which frame the receive filter refused: its
// destination and, for IPv4, the datagram's addresses and protocol, so that
// a student tells a multicast group's IGMP report from its data.
func notForUsDetail(eth wire.Ethernet) string {
	detail := fmt.Sprintf("destination %s", eth.Dst())
	if ip := wire.IPv4(eth.Payload()); eth.Type() == wire.EtherTypeIPv4 && len(ip) >= wire.IPv4MinHeaderLen && ip.Version() == 4 {
		detail += fmt.Sprintf(", IPv4 %s > %s %s", ip.Src(), ip.Dst(), ip.Protocol())
	}
	return detail
}

// SendFrame prepends an Ethernet header for dst and t to p and sends it on
// the stack's first interface.
func (s *Stack) SendFrame(now clock.Time, dst wire.MAC, t wire.EtherType, p *Packet) error {
	return s.ifaces[0].SendFrame(now, dst, t, p)
}

// SendFrame prepends an Ethernet header for dst and t to p and sends it on
// the interface.
func (ifc *Iface) SendFrame(now clock.Time, dst wire.MAC, t wire.EtherType, p *Packet) error {
	s := ifc.s
	if p.Len() > ifc.mtu {
		s.drop(now, observe.LayerLink, ReasonEthTooBig, nil, fmt.Sprintf("%d-byte payload, MTU %d", p.Len(), ifc.mtu))
		return fmt.Errorf("send frame: %d bytes exceed the MTU of %d", p.Len(), ifc.mtu)
	}
	h := wire.EthernetHeader{Dst: dst, Src: ifc.mac, Type: t}
	frame := p.Prepend(wire.EthernetHeaderLen)
	if err := h.Marshal(frame); err != nil {
		return err
	}
	if s.obs.Active() {
		s.publishFrame(now, observe.KindTX, frame, "sent")
	}
	if err := ifc.link.Send(frame); err != nil {
		s.drop(now, observe.LayerLink, ReasonLinkError, frame, err.Error())
		return fmt.Errorf("send frame on %s: %w", ifc.link.Name(), err)
	}
	s.stats.FramesOut++
	s.stats.BytesOut += uint64(len(frame))
	return nil
}

// publishFrame publishes a link-layer rx or tx event carrying the frame.
func (s *Stack) publishFrame(now clock.Time, kind observe.Kind, frame []byte, verb string) {
	var h wire.EthernetHeader
	if eth := wire.Ethernet(frame); eth.Validate() == nil {
		h = wire.EthernetHeader{Dst: eth.Dst(), Src: eth.Src(), Type: eth.Type()}
	}
	b := append(s.ev.buf[:0], verb...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(frame)), 10)
	b = append(b, " bytes: "...)
	b = appendEthernetHeader(b, h)
	s.obs.Publish(observe.Event{
		TimeNS:  int64(now),
		Host:    s.cfg.Name,
		Layer:   observe.LayerLink,
		Kind:    kind,
		Summary: s.summary(b),
		Frame:   append([]byte(nil), frame...),
	})
}

// drop counts a discarded frame under reason and publishes why.
func (s *Stack) drop(now clock.Time, layer observe.Layer, reason Reason, frame []byte, detail string) {
	s.stats.Drops[reason]++
	if !s.obs.Active() {
		return
	}
	summary := "dropped: " + reason.String()
	if detail != "" {
		summary += " (" + detail + ")"
	}
	e := observe.Event{
		TimeNS:  int64(now),
		Host:    s.cfg.Name,
		Layer:   layer,
		Kind:    observe.KindDrop,
		Summary: summary,
		Explain: reason.Explain(),
		Reason:  reason.String(),
	}
	if frame != nil {
		e.Frame = append([]byte(nil), frame...)
	}
	s.obs.Publish(e)
}
