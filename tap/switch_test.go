package tap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// recSink records every event.
type recSink struct{ events []observe.Event }

func (r *recSink) Active() bool            { return true }
func (r *recSink) Publish(e observe.Event) { r.events = append(r.events, e) }

// find returns the recorded events of kind (and reason, when not empty).
func (r *recSink) find(kind observe.Kind, reason string) []observe.Event {
	var out []observe.Event
	for _, e := range r.events {
		if e.Kind == kind && (reason == "" || e.Reason == reason) {
			out = append(out, e)
		}
	}
	return out
}

// delivery is one frame handed to a port's handler.
type delivery struct {
	at    clock.Time
	frame []byte
}

// host is a test host on a switch port that records what it receives.
type host struct {
	port *Port
	got  []delivery
}

func newHost(v *clock.Virtual, sw *Switch, name string, mac wire.MAC, mtu int) *host {
	h := &host{port: sw.AddPort(name, mac, mtu)}
	h.port.SetHandler(func(f []byte) {
		h.got = append(h.got, delivery{at: v.Now(), frame: bytes.Clone(f)})
	})
	return h
}

func mac(n byte) wire.MAC { return wire.MAC{0x02, 0, 0, 0, 0, n} }

// frame builds an Ethernet frame of size bytes from src to dst carrying seq
// in its first four payload bytes, the rest a pattern.
func frame(dst, src wire.MAC, seq uint32, size int) []byte {
	f := make([]byte, size)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:14], 0x88b5) // IEEE local experimental
	binary.BigEndian.PutUint32(f[14:18], seq)
	for i := 18; i < size; i++ {
		f[i] = byte(i)
	}
	return f
}

func seqOf(f []byte) uint32 { return binary.BigEndian.Uint32(f[14:18]) }

func mustSend(t testing.TB, p *Port, f []byte) {
	t.Helper()
	if err := p.Send(f); err != nil {
		t.Fatalf("send on %s: %v", p.Name(), err)
	}
}

func TestSwitchLearningAndFlooding(t *testing.T) {
	v := clock.NewVirtual()
	rec := &recSink{}
	sw := NewSwitch(v, "lan", rec, 1)
	a := newHost(v, sw, "a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	c := newHost(v, sw, "c", mac(3), 1500)
	d := newHost(v, sw, "d", mac(4), 1500)
	all := []*host{a, b, c, d}
	counts := func() [4]int {
		var n [4]int
		for i, h := range all {
			n[i] = len(h.got)
			h.got = nil
		}
		return n
	}

	// a -> b: b is unknown, so the frame floods to b, c, d but never back to a.
	mustSend(t, a.port, frame(mac(2), mac(1), 1, 60))
	v.RunFor(time.Millisecond)
	if got := counts(); got != [4]int{0, 1, 1, 1} {
		t.Fatalf("unknown unicast: deliveries %v, want [0 1 1 1]", got)
	}
	if len(rec.find(observe.KindInfo, "")) != 1 {
		t.Errorf("want one flood event, got %v", rec.find(observe.KindInfo, ""))
	}
	// b -> a: a was learned from the first frame, so only a gets it.
	mustSend(t, b.port, frame(mac(1), mac(2), 2, 60))
	v.RunFor(time.Millisecond)
	if got := counts(); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("known unicast to a: deliveries %v, want [1 0 0 0]", got)
	}
	// a -> b again: b is known now.
	mustSend(t, a.port, frame(mac(2), mac(1), 3, 60))
	v.RunFor(time.Millisecond)
	if got := counts(); got != [4]int{0, 1, 0, 0} {
		t.Fatalf("known unicast to b: deliveries %v, want [0 1 0 0]", got)
	}
	// Broadcast and multicast flood to all but the sender.
	mustSend(t, c.port, frame(wire.BroadcastMAC, mac(3), 4, 60))
	v.RunFor(time.Millisecond)
	if got := counts(); got != [4]int{1, 1, 0, 1} {
		t.Fatalf("broadcast from c: deliveries %v, want [1 1 0 1]", got)
	}
	mustSend(t, d.port, frame(wire.MAC{0x01, 0x00, 0x5e, 0, 0, 1}, mac(4), 5, 60))
	v.RunFor(time.Millisecond)
	if got := counts(); got != [4]int{1, 1, 1, 0} {
		t.Fatalf("multicast from d: deliveries %v, want [1 1 1 0]", got)
	}
	// A multicast source is never learned.
	mustSend(t, d.port, frame(mac(9), wire.MAC{0x01, 0, 0, 0, 0, 9}, 6, 60))
	v.RunFor(time.Millisecond)
	counts()
	table := sw.MACTable()
	want := []string{"lan/a", "lan/b", "lan/c", "lan/d"}
	if len(table) != len(want) {
		t.Fatalf("MAC table %v, want 4 entries", table)
	}
	for i, e := range table {
		if e.MAC != mac(byte(i+1)) || e.Port != want[i] {
			t.Errorf("MAC table[%d] = %v on %s, want %v on %s", i, e.MAC, e.Port, mac(byte(i+1)), want[i])
		}
	}
	if n := len(rec.find(observe.KindCache, "")); n != 4 {
		t.Errorf("%d learning events, want 4", n)
	}
	// A station that moves is learned on its new port.
	mustSend(t, c.port, frame(wire.BroadcastMAC, mac(1), 7, 60))
	v.RunFor(time.Millisecond)
	counts()
	mustSend(t, b.port, frame(mac(1), mac(2), 8, 60))
	v.RunFor(time.Millisecond)
	if got := counts(); got != [4]int{0, 0, 1, 0} {
		t.Fatalf("after the move of %v to c: deliveries %v, want [0 0 1 0]", mac(1), got)
	}
	if st := a.port.Stats(); st.TxFrames != 2 || st.TxBytes != 120 || st.RxFrames != 5 || st.RxBytes != 300 {
		t.Errorf("stats of a: %+v", st)
	}
}

func TestSwitchSamePortAndAging(t *testing.T) {
	v := clock.NewVirtual()
	rec := &recSink{}
	sw := NewSwitch(v, "lan", rec, 1)
	a := newHost(v, sw, "a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	// Two stations behind a (a hub on the port): mac(1) and mac(5).
	mustSend(t, a.port, frame(wire.BroadcastMAC, mac(5), 1, 60))
	v.RunFor(time.Millisecond)
	mustSend(t, a.port, frame(mac(5), mac(1), 2, 60))
	v.RunFor(time.Millisecond)
	if len(a.got) != 0 || len(b.got) != 1 {
		t.Fatalf("a got %d, b got %d frames; want 0 and 1 (the broadcast)", len(a.got), len(b.got))
	}
	if n := a.port.Stats().Drops[DropSamePort]; n != 1 {
		t.Errorf("same-port drops = %d, want 1", n)
	}
	if len(rec.find(observe.KindDrop, DropSamePort)) != 1 {
		t.Error("no same-port drop event")
	}
	// After the aging time the address is forgotten and frames flood again.
	sw.SetAgingTime(time.Second)
	v.RunFor(2 * time.Second)
	b.got = nil
	mustSend(t, b.port, frame(mac(5), mac(2), 3, 60))
	v.RunFor(time.Millisecond)
	if len(a.got) != 1 {
		t.Fatalf("after aging, a got %d frames, want the flooded one", len(a.got))
	}
}

func TestSwitchFrameSize(t *testing.T) {
	v := clock.NewVirtual()
	rec := &recSink{}
	sw := NewSwitch(v, "lan", rec, 1)
	a := newHost(v, sw, "a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	c := newHost(v, sw, "c", mac(3), 1000)

	err := a.port.Send(frame(wire.BroadcastMAC, mac(1), 1, 14+1501))
	if !errors.Is(err, ErrFrameSize) {
		t.Fatalf("oversized send: err %v, want ErrFrameSize", err)
	}
	if err := a.port.Send(make([]byte, 13)); !errors.Is(err, ErrFrameSize) {
		t.Fatalf("runt send: err %v, want ErrFrameSize", err)
	}
	mustSend(t, a.port, frame(wire.BroadcastMAC, mac(1), 2, 14+1500))
	mustSend(t, a.port, frame(wire.BroadcastMAC, mac(1), 3, 14+1000))
	v.RunFor(time.Millisecond)
	if len(b.got) != 2 || len(c.got) != 1 || len(c.got[0].frame) != 1014 {
		t.Fatalf("b got %d, c got %d frames; want 2 and 1 (the one that fits c's MTU)", len(b.got), len(c.got))
	}
	sa, sc := a.port.Stats(), c.port.Stats()
	if sa.Drops[DropTooBig] != 1 || sa.Drops[DropTooShort] != 1 || sa.TxFrames != 2 {
		t.Errorf("a stats %+v: want one too-big, one too-short, two sent", sa)
	}
	if sc.Drops[DropTooBig] != 1 {
		t.Errorf("c stats %+v: want one too-big at egress", sc)
	}
	drops := rec.find(observe.KindDrop, DropTooBig)
	if len(drops) != 2 || drops[0].Host != "lan/a" || drops[1].Host != "lan/c" || len(drops[0].Frame) != 1515 {
		t.Errorf("too-big events %+v", drops)
	}
}

func TestSwitchCopySemantics(t *testing.T) {
	v := clock.NewVirtual()
	sw := NewSwitch(v, "lan", nil, 1)
	a := newHost(v, sw, "a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	c := newHost(v, sw, "c", mac(3), 1500)
	buf := frame(wire.BroadcastMAC, mac(1), 7, 100)
	want := bytes.Clone(buf)
	mustSend(t, a.port, buf)
	for i := range buf {
		buf[i] = 0xee
	}
	// A handler that scribbles over its frame must not affect the others.
	b.port.SetHandler(func(f []byte) {
		b.got = append(b.got, delivery{v.Now(), bytes.Clone(f)})
		for i := range f {
			f[i] = 0
		}
	})
	v.RunFor(time.Millisecond)
	if len(b.got) != 1 || len(c.got) != 1 {
		t.Fatalf("b got %d, c got %d frames", len(b.got), len(c.got))
	}
	if !bytes.Equal(b.got[0].frame, want) || !bytes.Equal(c.got[0].frame, want) {
		t.Fatal("delivered bytes changed after the sender reused its buffer")
	}
}

func TestSwitchDeliveryTimes(t *testing.T) {
	v := clock.NewVirtual()
	sw := NewSwitch(v, "lan", nil, 1)
	a := newHost(v, sw, "a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	mustSend(t, a.port, frame(mac(2), mac(1), 1, 60))
	v.RunFor(time.Second)
	if len(b.got) != 1 || b.got[0].at != clock.Time(DefaultPropagationDelay) {
		t.Fatalf("deliveries %v, want one at %v", b.got, DefaultPropagationDelay)
	}
	b.got = nil
	sw.SetPropagationDelay(50 * time.Microsecond)
	if err := a.port.SetImpairment(In, Impairment{Delay: 3 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := b.port.SetImpairment(Out, Impairment{Delay: 2 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := v.Now()
	mustSend(t, a.port, frame(mac(2), mac(1), 2, 60))
	// The other way b -> a only has the propagation delay.
	mustSend(t, b.port, frame(mac(1), mac(2), 3, 60))
	v.RunFor(time.Second)
	if len(b.got) != 1 || b.got[0].at.Sub(start) != 5050*time.Microsecond {
		t.Fatalf("a->b deliveries %v, want one after 5.05ms", b.got)
	}
	if len(a.got) != 1 || a.got[0].at.Sub(start) != 50*time.Microsecond {
		t.Fatalf("b->a deliveries %v, want one after 50µs", a.got)
	}
}

func TestSwitchClose(t *testing.T) {
	v := clock.NewVirtual()
	sw := NewSwitch(v, "lan", nil, 1)
	a := newHost(v, sw, "a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	c := newHost(v, sw, "c", mac(3), 1500)
	mustSend(t, a.port, frame(wire.BroadcastMAC, mac(1), 1, 60))
	if err := b.port.Close(); err != nil {
		t.Fatal(err)
	}
	v.RunFor(time.Millisecond)
	if len(b.got) != 0 || len(c.got) != 1 {
		t.Fatalf("b got %d (closed), c got %d", len(b.got), len(c.got))
	}
	if b.port.Stats().Drops[DropClosed] != 1 {
		t.Errorf("b drops %v, want one closed", b.port.Stats().Drops)
	}
	if err := b.port.Send(frame(mac(1), mac(2), 2, 60)); !errors.Is(err, ErrPortClosed) {
		t.Fatalf("send on closed port: %v", err)
	}
	if n := len(sw.Ports()); n != 2 {
		t.Fatalf("%d ports after close, want 2", n)
	}
	c.port.SetHandler(nil)
	mustSend(t, a.port, frame(wire.BroadcastMAC, mac(1), 3, 60))
	v.RunFor(time.Millisecond)
	if c.port.Stats().Drops[DropNoHandler] != 1 {
		t.Errorf("c drops %v, want one no-handler", c.port.Stats().Drops)
	}
}

// A frame arriving at the same instant as the switch forwards must not run
// the handler inside Send: delivery is always a later piece of loop work.
func TestSwitchNoReentrantDelivery(t *testing.T) {
	v := clock.NewVirtual()
	sw := NewSwitch(v, "lan", nil, 1)
	sw.SetPropagationDelay(0)
	a := newHost(v, sw, "a", mac(1), 1500)
	b := newHost(v, sw, "b", mac(2), 1500)
	mustSend(t, a.port, frame(mac(2), mac(1), 1, 60))
	if len(b.got) != 0 {
		t.Fatal("handler ran inside Send")
	}
	v.RunFor(0)
	if len(b.got) != 1 || b.got[0].at != 0 {
		t.Fatalf("deliveries %v, want one at 0", b.got)
	}
}

// BenchmarkSwitchFrame measures one 1514-byte frame through a 2-port switch
// without impairments: Send, the delivery event and the handler.
func BenchmarkSwitchFrame(b *testing.B) {
	v := clock.NewVirtual()
	sw := NewSwitch(v, "lan", observe.Discard, 1)
	pa := sw.AddPort("a", mac(1), 1500)
	pb := sw.AddPort("b", mac(2), 1500)
	var n int
	pb.SetHandler(func(f []byte) { n += len(f) })
	pa.SetHandler(func([]byte) {})
	f := frame(mac(2), mac(1), 1, 1514)
	// Let the switch learn both ends first.
	_ = pb.Send(frame(mac(1), mac(2), 0, 60))
	v.RunFor(time.Millisecond)
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	for b.Loop() {
		if err := pa.Send(f); err != nil {
			b.Fatal(err)
		}
		v.Step()
	}
	if n == 0 {
		b.Fatal("nothing delivered")
	}
}
