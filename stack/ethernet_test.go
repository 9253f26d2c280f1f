package stack_test

import (
	"net/netip"
	"testing"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// fakeLink records what the stack sends and lets a test inject frames.
type fakeLink struct {
	mtu  int
	mac  wire.MAC
	sent [][]byte
	h    tap.Handler
}

func (l *fakeLink) Name() string             { return "fake" }
func (l *fakeLink) MTU() int                 { return l.mtu }
func (l *fakeLink) MAC() wire.MAC            { return l.mac }
func (l *fakeLink) SetHandler(h tap.Handler) { l.h = h }
func (l *fakeLink) Close() error             { return nil }
func (l *fakeLink) Send(f []byte) error {
	l.sent = append(l.sent, append([]byte(nil), f...))
	return nil
}

// events is a Sink that keeps everything published.
type events struct{ list []observe.Event }

func (e *events) Active() bool             { return true }
func (e *events) Publish(ev observe.Event) { e.list = append(e.list, ev) }

var (
	ownMAC   = wire.MAC{0x02, 0, 0, 0, 0, 0x07}
	peerMAC  = wire.MAC{0x02, 0, 0, 0, 0, 0x14}
	otherMAC = wire.MAC{0x02, 0, 0, 0, 0, 0x99}
)

func newTestStack(t *testing.T) (*stack.Stack, *fakeLink, *events, *clock.Virtual) {
	t.Helper()
	link := &fakeLink{mtu: 1500, mac: ownMAC}
	ev := &events{}
	loop := clock.NewVirtual()
	s, err := stack.New(stack.Config{Name: "tipy", MAC: ownMAC, Addr: netip.MustParsePrefix("192.168.2.7/24")}, link, loop, ev)
	if err != nil {
		t.Fatal(err)
	}
	return s, link, ev, loop
}

func frame(dst, src wire.MAC, t wire.EtherType, payload string) []byte {
	b := make([]byte, wire.EthernetHeaderLen+len(payload))
	h := wire.EthernetHeader{Dst: dst, Src: src, Type: t}
	if err := h.Marshal(b); err != nil {
		panic(err)
	}
	copy(b[wire.EthernetHeaderLen:], payload)
	return b
}

func TestEthernetFilterAndDemux(t *testing.T) {
	s, link, ev, _ := newTestStack(t)
	var got []string
	s.Handle(etherTypeTest, func(now clock.Time, _ *stack.Iface, f wire.Ethernet) { got = append(got, string(f.Payload())) })
	group := wire.MulticastMAC(netip.MustParseAddr("239.1.2.3"))
	allHosts := wire.MulticastMAC(netip.MustParseAddr("224.0.0.1"))

	cases := []struct {
		name   string
		frame  []byte
		kept   bool
		reason string
	}{
		{"own unicast", frame(ownMAC, peerMAC, etherTypeTest, "a"), true, ""},
		{"broadcast", frame(wire.BroadcastMAC, peerMAC, etherTypeTest, "b"), true, ""},
		{"all-hosts group", frame(allHosts, peerMAC, etherTypeTest, "c"), true, ""},
		{"other host", frame(otherMAC, peerMAC, etherTypeTest, "x"), false, "eth-not-for-us"},
		{"unjoined group", frame(group, peerMAC, etherTypeTest, "x"), false, "eth-not-for-us"},
		{"own source", frame(ownMAC, ownMAC, etherTypeTest, "x"), false, "eth-own-source"},
		{"unknown type", frame(ownMAC, peerMAC, wire.EtherTypeIPv6, "x"), false, "eth-unknown-type"},
		{"truncated", []byte{1, 2, 3, 4, 5}, false, "eth-truncated"},
	}
	for _, c := range cases {
		before, evBefore := len(got), len(ev.list)
		link.h(c.frame)
		if kept := len(got) > before; kept != c.kept {
			t.Errorf("%s: kept %v, want %v", c.name, kept, c.kept)
		}
		if c.reason != "" {
			if len(ev.list) == evBefore {
				t.Errorf("%s: no event", c.name)
				continue
			}
			e := ev.list[len(ev.list)-1]
			if e.Kind != observe.KindDrop || e.Reason != c.reason || e.Explain == "" {
				t.Errorf("%s: event %+v, want a drop with reason %s and an explanation", c.name, e, c.reason)
			}
		}
	}
	s.Iface().JoinMAC(group)
	link.h(frame(group, peerMAC, etherTypeTest, "d"))
	s.Iface().JoinMAC(group)
	s.Iface().LeaveMAC(group)
	link.h(frame(group, peerMAC, etherTypeTest, "e"))
	s.Iface().LeaveMAC(group)
	link.h(frame(group, peerMAC, etherTypeTest, "gone"))
	want := []string{"a", "b", "c", "d", "e"}
	if len(got) != len(want) {
		t.Fatalf("received %q, want %q", got, want)
	}
	st := s.Stats()
	drops := st.DropCounts()
	if drops["eth-not-for-us"] != 3 || drops["eth-own-source"] != 1 || drops["eth-unknown-type"] != 1 || drops["eth-truncated"] != 1 {
		t.Errorf("drop counters %v", drops)
	}
	if st.FramesIn != 11 {
		t.Errorf("FramesIn %d, want 11", st.FramesIn)
	}
}

func TestSendFrameBuildsInHeadroom(t *testing.T) {
	s, link, ev, loop := newTestStack(t)
	p := stack.NewPacket(stack.Headroom, 5)
	copy(p.Payload(), "hello")
	payload := p.Payload()
	if err := s.SendFrame(loop.Now(), peerMAC, etherTypeTest, p); err != nil {
		t.Fatal(err)
	}
	if len(link.sent) != 1 {
		t.Fatalf("sent %d frames", len(link.sent))
	}
	f := wire.Ethernet(link.sent[0])
	if err := f.Validate(); err != nil || f.Dst() != peerMAC || f.Src() != ownMAC || f.Type() != etherTypeTest || string(f.Payload()) != "hello" {
		t.Fatalf("frame % x", link.sent[0])
	}
	// The header went in front of the payload in the same buffer.
	if &p.Bytes()[wire.EthernetHeaderLen] != &payload[0] {
		t.Error("payload was copied")
	}
	if e := ev.list[len(ev.list)-1]; e.Kind != observe.KindTX || len(e.Frame) != 19 {
		t.Errorf("tx event %+v", e)
	}

	big := stack.NewPacket(stack.Headroom, 1501)
	if err := s.SendFrame(loop.Now(), peerMAC, etherTypeTest, big); err == nil {
		t.Error("a payload over the MTU was sent")
	}
	if n := s.Stats().DropCounts()["eth-too-big"]; n != 1 {
		t.Errorf("eth-too-big counted %d times", n)
	}
}

func TestConfigValidate(t *testing.T) {
	good := stack.Config{Name: "h", MAC: ownMAC, Addr: netip.MustParsePrefix("10.0.0.1/24"), Gateway: netip.MustParseAddr("10.0.0.254")}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []stack.Config{
		{MAC: ownMAC, Addr: good.Addr},
		{Name: "h", MAC: wire.BroadcastMAC, Addr: good.Addr},
		{Name: "h", MAC: ownMAC},
		{Name: "h", MAC: ownMAC, Addr: good.Addr, Gateway: netip.MustParseAddr("10.0.1.1")},
		{Name: "h", MAC: ownMAC, Addr: good.Addr, MTU: 20},
	}
	for i, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("config %d: no error", i)
		}
	}
}
