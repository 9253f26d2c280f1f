package stack_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// protoTest is an IP protocol number reserved for experiments (RFC 3692):
// no layer of tipy claims it, so tests register their own handler.
const protoTest wire.IPProtocol = 253

var (
	fragSrc   = netip.MustParseAddr("192.168.2.20")
	fragDst   = netip.MustParseAddr("192.168.2.7")
	fragBcast = netip.MustParseAddr("192.168.2.255")
)

// fragPair is a sender and a receiver, each on a fakeLink of its own, with
// one loop and one event list. Tests carry frames between them by hand, so
// they choose the order, the duplicates and the losses.
type fragPair struct {
	t      *testing.T
	loop   *clock.Virtual
	ev     *events
	tx, rx *stack.Stack
	txLink *fakeLink
	rxLink *fakeLink
	got    [][]byte          // payloads of protoTest datagrams the receiver got
	hdrs   []wire.IPv4Header // and their headers
}

func newFragPair(t *testing.T, txMTU int, rxMod func(*stack.Config)) *fragPair {
	t.Helper()
	fp := &fragPair{t: t, loop: clock.NewVirtual(), ev: &events{}}
	fp.txLink = &fakeLink{mtu: txMTU, mac: peerMAC}
	fp.rxLink = &fakeLink{mtu: 1500, mac: ownMAC}
	txCfg := stack.Config{Name: "alpha", MAC: peerMAC, Addr: netip.PrefixFrom(fragSrc, 24), Seed: 1}
	txCfg.ARP.NoProbe = true
	rxCfg := stack.Config{Name: "tipy", MAC: ownMAC, Addr: netip.PrefixFrom(fragDst, 24), Seed: 2}
	rxCfg.ARP.NoProbe = true
	if rxMod != nil {
		rxMod(&rxCfg)
	}
	var err error
	if fp.tx, err = stack.New(txCfg, fp.txLink, fp.loop, fp.ev); err != nil {
		t.Fatal(err)
	}
	if fp.rx, err = stack.New(rxCfg, fp.rxLink, fp.loop, fp.ev); err != nil {
		t.Fatal(err)
	}
	fp.rx.HandleProtocol(protoTest, func(now clock.Time, d *stack.Datagram) {
		fp.got = append(fp.got, append([]byte(nil), d.Payload...))
		fp.hdrs = append(fp.hdrs, d.Header)
	})
	return fp
}

// fragPayload returns n reproducible bytes.
func fragPayload(seed uint64, n int) []byte {
	r := clock.NewRand(seed, "payload")
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// send makes the sender send payload to the subnet broadcast (no ARP needed)
// and returns the frames it put on its link.
func (fp *fragPair) send(payload []byte, opts []wire.IPv4Option) [][]byte {
	fp.t.Helper()
	before := len(fp.txLink.sent)
	p := stack.NewPacket(stack.Headroom, len(payload))
	copy(p.Payload(), payload)
	if err := fp.tx.SendIPv4(fp.loop.Now(), fragBcast, protoTest, p, &stack.SendOptions{Broadcast: true, Options: opts}); err != nil {
		fp.t.Fatal(err)
	}
	return fp.txLink.sent[before:]
}

// fragInfo is what a test checks of one fragment on the wire.
type fragInfo struct {
	hdr  wire.IPv4Header
	hl   int
	data []byte
}

// parseFrags checks each frame is a valid IPv4 fragment no larger than mtu
// and decodes it.
func parseFrags(t *testing.T, frames [][]byte, mtu int) []fragInfo {
	t.Helper()
	var out []fragInfo
	for i, f := range frames {
		ip := wire.IPv4(wire.Ethernet(f).Payload())
		h, err := wire.ParseIPv4(ip)
		if err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		if !ip.ChecksumValid() {
			t.Fatalf("fragment %d: bad header checksum", i)
		}
		if len(ip) > mtu {
			t.Fatalf("fragment %d: %d bytes exceed the MTU %d", i, len(ip), mtu)
		}
		out = append(out, fragInfo{hdr: h, hl: ip.HeaderLen(), data: ip.Payload()})
	}
	return out
}

// checkCut checks that frags cut a payload of n bytes correctly: one ID,
// contiguous offsets from 0, multiples of 8 except the last, MF on all but
// the last, and the data put back together equal to want.
func checkCut(t *testing.T, frags []fragInfo, want []byte) {
	t.Helper()
	var joined []byte
	for i, f := range frags {
		last := i == len(frags)-1
		if f.hdr.ID != frags[0].hdr.ID {
			t.Fatalf("fragment %d: id %d, first had %d", i, f.hdr.ID, frags[0].hdr.ID)
		}
		if f.hdr.FragOff != len(joined) {
			t.Fatalf("fragment %d: offset %d, want %d", i, f.hdr.FragOff, len(joined))
		}
		if f.hdr.More() == last {
			t.Fatalf("fragment %d of %d: MF %v", i, len(frags), f.hdr.More())
		}
		if !last && len(f.data)%8 != 0 {
			t.Fatalf("fragment %d: %d data bytes, not a multiple of 8", i, len(f.data))
		}
		joined = append(joined, f.data...)
	}
	if !bytes.Equal(joined, want) {
		t.Fatalf("fragments carry %d bytes that differ from the %d sent", len(joined), len(want))
	}
}

func TestFragmentReassembleAnyOrder(t *testing.T) {
	for _, mtu := range []int{1500, 576} {
		for _, size := range []int{4000, 8000} {
			t.Run(fmt.Sprintf("mtu%d/%d", mtu, size), func(t *testing.T) {
				fp := newFragPair(t, mtu, nil)
				payload := fragPayload(uint64(size+mtu), size)
				frames := fp.send(payload, nil)
				frags := parseFrags(t, frames, mtu)
				checkCut(t, frags, payload)
				full := (mtu - 20) &^ 7
				if want := (size + full - 1) / full; len(frags) != want {
					t.Fatalf("%d fragments, want %d", len(frags), want)
				}
				summary := fmt.Sprintf("fragmenting %d bytes into %d fragments for MTU %d", size, len(frags), mtu)
				if !hasEvent(fp.ev, "alpha", func(e observe.Event) bool {
					return bytes.HasPrefix([]byte(e.Summary), []byte(summary)) && e.RFC == "RFC 791 §3.2" && e.Explain != ""
				}) {
					t.Errorf("no event %q", summary)
				}

				rnd := clock.NewRand(uint64(size*mtu), "order")
				n := len(frames)
				forward := make([]int, n)
				for i := range forward {
					forward[i] = i
				}
				reverse := slices.Clone(forward)
				slices.Reverse(reverse)
				shuffled := rnd.Perm(n)
				// Shuffled again, with duplicates of fragments already
				// delivered mixed in before the one that completes.
				dups := 0
				withDups := slices.Clone(rnd.Perm(n))
				lastOne := withDups[n-1]
				withDups = withDups[:n-1]
				for _, k := range slices.Clone(withDups) {
					if rnd.IntN(2) == 0 {
						at := rnd.IntN(len(withDups) + 1)
						withDups = slices.Insert(withDups, at, k)
						dups++
					}
				}
				withDups = append(withDups, lastOne)
				if dups == 0 {
					withDups = slices.Insert(withDups, 0, withDups[0])
					dups = 1
				}
				for _, order := range []struct {
					name string
					seq  []int
					dups uint64
				}{{"forward", forward, 0}, {"reverse", reverse, 0}, {"shuffled", shuffled, 0}, {"duplicates", withDups, uint64(dups)}} {
					before := fp.rx.ReassemblyStats()
					fp.got = nil
					for i, k := range order.seq {
						if len(fp.got) != 0 {
							t.Fatalf("%s: delivered after %d of %d fragments", order.name, i, len(order.seq))
						}
						fp.rxLink.h(frames[k])
					}
					if len(fp.got) != 1 || !bytes.Equal(fp.got[0], payload) {
						t.Fatalf("%s: delivered %d datagrams, want the payload once", order.name, len(fp.got))
					}
					st := fp.rx.ReassemblyStats()
					if st.InProgress != 0 || st.BytesHeld != 0 {
						t.Fatalf("%s: %d datagrams, %d bytes still held", order.name, st.InProgress, st.BytesHeld)
					}
					if st.Completed != before.Completed+1 || st.Duplicates != before.Duplicates+order.dups {
						t.Fatalf("%s: completed %d->%d, duplicates %d->%d, want +1 and +%d",
							order.name, before.Completed, st.Completed, before.Duplicates, st.Duplicates, order.dups)
					}
				}
				drops := fp.rx.Stats().DropCounts()
				if d := drops["ip-frag-duplicate"]; d != fp.rx.ReassemblyStats().Duplicates {
					t.Fatalf("%d duplicates counted as drops, %d seen by reassembly", d, fp.rx.ReassemblyStats().Duplicates)
				}
				delete(drops, "ip-frag-duplicate")
				if len(drops) != 0 {
					t.Fatalf("receiver dropped %v", drops)
				}
				if !hasEvent(fp.ev, "tipy", func(e observe.Event) bool {
					return e.Kind == observe.KindDrop && e.Reason == "ip-frag-duplicate" && e.Fields["offset"] != nil
				}) {
					t.Error("no duplicate-fragment event")
				}
			})
		}
	}
}

// hasEvent reports whether an event of host satisfies match. (Other
// layers' tests use it too.)
func hasEvent(ev *events, host string, match func(observe.Event) bool) bool {
	for _, e := range ev.list {
		if e.Host == host && match(e) {
			return true
		}
	}
	return false
}

func TestFragmentOptionsCopyFlag(t *testing.T) {
	fp := newFragPair(t, 1500, nil)
	payload := fragPayload(3, 4000)
	rr := wire.RecordRouteOption(3) // copy flag 0: first fragment only
	ra := wire.RouterAlertOption(0) // copy flag 1: every fragment
	if rr.Copied() || !ra.Copied() {
		t.Fatal("copy flags of Record Route and Router Alert are not what RFC 791 and RFC 2113 say")
	}
	frags := parseFrags(t, fp.send(payload, []wire.IPv4Option{rr, ra}), 1500)
	checkCut(t, frags, payload)
	// First: 20 + RR (3+3*4) + RA (4) padded to 40; later: 20 + RA = 24.
	for i, f := range frags {
		wantHL, wantOpts := 24, []uint8{wire.IPv4OptRouterAlert}
		if i == 0 {
			wantHL, wantOpts = 40, []uint8{wire.IPv4OptRecordRoute, wire.IPv4OptRouterAlert}
		}
		var got []uint8
		for _, o := range f.hdr.Options {
			got = append(got, o.Type)
		}
		if f.hl != wantHL || !slices.Equal(got, wantOpts) {
			t.Fatalf("fragment %d: header %d bytes with options %v, want %d with %v", i, f.hl, got, wantHL, wantOpts)
		}
	}
	if len(frags[0].data) != 1456 || len(frags[1].data) != 1472 {
		t.Fatalf("data sizes %d and %d, want 1456 (1500-40 rounded down to 8) and 1472 (1500-24)", len(frags[0].data), len(frags[1].data))
	}
	// The receiver rebuilds the datagram with the first fragment's header.
	for _, k := range []int{2, 0, 1} {
		fp.rxLink.h(fp.txLink.sent[len(fp.txLink.sent)-3+k])
	}
	if len(fp.got) != 1 || !bytes.Equal(fp.got[0], payload) {
		t.Fatalf("delivered %d datagrams", len(fp.got))
	}
	h := fp.hdrs[0]
	if len(h.Options) != 2 || h.IsFragment() || int(h.TotalLen) != 40+len(payload) {
		t.Fatalf("reassembled header %v", h)
	}
}

// fragFrame builds one fragment from fragSrc to fragDst with protocol
// protoTest, as a frame for the receiver.
func fragFrame(t *testing.T, id uint16, off int, more bool, data []byte, opts ...wire.IPv4Option) []byte {
	t.Helper()
	h := wire.IPv4Header{ID: id, FragOff: off, TTL: 64, Protocol: protoTest, Src: fragSrc, Dst: fragDst, Options: opts}
	if more {
		h.Flags = wire.IPv4FlagMF
	}
	hl := h.HeaderLen()
	b := make([]byte, wire.EthernetHeaderLen+hl+len(data))
	eh := wire.EthernetHeader{Dst: ownMAC, Src: peerMAC, Type: wire.EtherTypeIPv4}
	if err := eh.Marshal(b); err != nil {
		t.Fatal(err)
	}
	copy(b[wire.EthernetHeaderLen+hl:], data)
	if err := h.Marshal(b[wire.EthernetHeaderLen:]); err != nil {
		t.Fatal(err)
	}
	return b
}

func fragFill(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }

func TestReassemblyPolicies(t *testing.T) {
	fp := newFragPair(t, 1500, func(c *stack.Config) { c.IPv4.ReassemblyTimeout = 5 * time.Second })
	in := func(id uint16, off int, more bool, data []byte) { fp.rxLink.h(fragFrame(t, id, off, more, data)) }
	drops := func(reason string) uint64 { return fp.rx.Stats().DropCounts()[reason] }

	// Partial overlap: the whole datagram goes, and so do its later fragments.
	in(1, 0, true, fragFill(16, 'a'))
	in(1, 8, true, fragFill(16, 'b'))
	if drops("ip-frag-overlap") != 1 || fp.rx.ReassemblyStats().InProgress != 0 || fp.rx.ReassemblyStats().BytesHeld != 0 {
		t.Fatalf("after an overlap: drops %v, stats %+v", fp.rx.Stats().DropCounts(), fp.rx.ReassemblyStats())
	}
	in(1, 16, false, fragFill(8, 'c'))
	if drops("ip-frag-overlap") != 2 || len(fp.got) != 0 {
		t.Fatalf("a late fragment of a discarded datagram: drops %v, delivered %d", fp.rx.Stats().DropCounts(), len(fp.got))
	}
	if !hasEvent(fp.ev, "tipy", func(e observe.Event) bool {
		return e.Kind == observe.KindDrop && e.Reason == "ip-frag-overlap" && e.RFC == "RFC 5722 §4" && e.Explain != ""
	}) {
		t.Error("no traced overlap drop with its RFC")
	}

	// The same range with other bytes is an overlap too; with the same
	// bytes, a duplicate.
	in(2, 0, true, fragFill(8, 'a'))
	in(2, 0, true, fragFill(8, 'x'))
	if drops("ip-frag-overlap") != 3 {
		t.Fatalf("same range, other bytes: drops %v", fp.rx.Stats().DropCounts())
	}
	in(3, 8, false, fragFill(8, 'b'))
	in(3, 8, false, fragFill(8, 'b'))
	in(3, 0, true, fragFill(8, 'a'))
	if len(fp.got) != 1 || string(fp.got[0]) != "aaaaaaaabbbbbbbb" || fp.rx.ReassemblyStats().Duplicates != 1 {
		t.Fatalf("duplicate then complete: delivered %q, stats %+v", fp.got, fp.rx.ReassemblyStats())
	}

	// A fragment that would make the datagram exceed 65535 bytes.
	in(4, 0, true, fragFill(8, 'a'))
	in(4, 65512, false, fragFill(16, 'z'))
	if drops("ip-frag-too-big") != 1 || fp.rx.ReassemblyStats().InProgress != 0 {
		t.Fatalf("over 65535: drops %v", fp.rx.Stats().DropCounts())
	}

	// Fragments that disagree on where the datagram ends; a middle fragment
	// whose length is not a multiple of 8.
	in(5, 0, true, fragFill(8, 'a'))
	in(5, 16, false, fragFill(8, 'c'))
	in(5, 24, false, fragFill(8, 'd'))
	in(6, 0, true, fragFill(12, 'a'))
	if drops("ip-malformed") != 2 || fp.rx.ReassemblyStats().InProgress != 0 {
		t.Fatalf("inconsistent ends: drops %v, stats %+v", fp.rx.Stats().DropCounts(), fp.rx.ReassemblyStats())
	}

	// The overlap tombstone expires silently; the ID may then be used again.
	fp.loop.RunFor(6 * time.Second)
	if st := fp.rx.ReassemblyStats(); st.TimedOut != 0 {
		t.Fatalf("a discarded datagram timed out: %+v", st)
	}
	in(1, 8, false, fragFill(8, 'b'))
	in(1, 0, true, fragFill(8, 'a'))
	if len(fp.got) != 2 || string(fp.got[1]) != "aaaaaaaabbbbbbbb" {
		t.Fatalf("id 1 reused after the tombstone: delivered %q", fp.got)
	}
	if len(fp.got) != int(fp.rx.ReassemblyStats().Completed) {
		t.Fatalf("completed %d, delivered %d", fp.rx.ReassemblyStats().Completed, len(fp.got))
	}
}

func TestReassemblyMemoryCapUnderFlood(t *testing.T) {
	const capBytes = 64 << 10
	fp := newFragPair(t, 1500, func(c *stack.Config) { c.IPv4.ReassemblyMemory = capBytes })
	const n = 500
	for id := 1; id <= n; id++ {
		fp.rxLink.h(fragFrame(t, uint16(id), 0, true, fragFill(1480, byte(id%251))))
		st := fp.rx.ReassemblyStats()
		if st.BytesHeld > capBytes || st.MemoryCap != capBytes {
			t.Fatalf("after datagram %d: %d bytes held, cap %d", id, st.BytesHeld, st.MemoryCap)
		}
		if st.BytesHeld != 1500*st.InProgress {
			t.Fatalf("after datagram %d: %d bytes held for %d datagrams of 1500", id, st.BytesHeld, st.InProgress)
		}
	}
	st := fp.rx.ReassemblyStats()
	kept := capBytes / 1500
	if st.InProgress != kept || st.PeakBytes > capBytes {
		t.Fatalf("%d datagrams held (want %d), peak %d bytes", st.InProgress, kept, st.PeakBytes)
	}
	evicted := uint64(n - kept)
	if got := fp.rx.Stats().DropCounts()["ip-frag-memory"]; got != evicted || st.Dropped["ip-frag-memory"] != evicted {
		t.Fatalf("memory drops %d (stats %d), want %d", got, st.Dropped["ip-frag-memory"], evicted)
	}
	// The oldest went first: the newest still completes, the first does not.
	fp.rxLink.h(fragFrame(t, n, 1480, false, fragFill(8, 'z')))
	fp.rxLink.h(fragFrame(t, 1, 1480, false, fragFill(8, 'z')))
	if len(fp.got) != 1 || fp.got[0][0] != byte(n%251) || len(fp.got[0]) != 1488 {
		t.Fatalf("after the flood: delivered %d datagrams", len(fp.got))
	}
	if !hasEvent(fp.ev, "tipy", func(e observe.Event) bool {
		return e.Reason == "ip-frag-memory" && e.RFC != "" && e.Explain != "" && e.Fields["memory_cap"] == capBytes
	}) {
		t.Error("no traced memory eviction")
	}
}

func TestReassemblyDatagramCountBound(t *testing.T) {
	fp := newFragPair(t, 1500, nil)
	const n = stack.MaxReassemblyDatagrams + 76
	for id := 0; id < n; id++ {
		fp.rxLink.h(fragFrame(t, uint16(id), 0, true, fragFill(8, 1)))
	}
	st := fp.rx.ReassemblyStats()
	if st.InProgress != stack.MaxReassemblyDatagrams || st.Dropped["ip-frag-memory"] != 76 {
		t.Fatalf("%d in progress, %d evicted; want %d and 76", st.InProgress, st.Dropped["ip-frag-memory"], stack.MaxReassemblyDatagrams)
	}
}

func TestReassemblyTimeout(t *testing.T) {
	fp := newFragPair(t, 1500, func(c *stack.Config) { c.IPv4.ReassemblyTimeout = 2 * time.Second })
	fp.rxLink.h(fragFrame(t, 7, 0, true, fragFill(16, 'a'))) // the first fragment
	fp.loop.RunFor(500 * time.Millisecond)
	fp.rxLink.h(fragFrame(t, 8, 16, false, fragFill(8, 'b'))) // a later one only
	fp.loop.RunFor(1400 * time.Millisecond)
	if st := fp.rx.ReassemblyStats(); st.TimedOut != 0 || st.InProgress != 2 {
		t.Fatalf("before the timeout: %+v", st)
	}
	fp.loop.RunFor(200 * time.Millisecond) // 2.1 s: id 7 expires, id 8 not yet
	if st := fp.rx.ReassemblyStats(); st.TimedOut != 1 || st.InProgress != 1 || st.Datagrams[0].ID != 8 {
		t.Fatalf("at 2.1 s: %+v", st)
	}
	fp.loop.RunFor(time.Second)
	st := fp.rx.ReassemblyStats()
	if st.TimedOut != 2 || st.InProgress != 0 || st.BytesHeld != 0 || fp.rx.Stats().DropCounts()["ip-frag-timeout"] != 2 {
		t.Fatalf("after both timeouts: %+v, drops %v", st, fp.rx.Stats().DropCounts())
	}
	icmp := map[uint16]any{}
	for _, e := range fp.ev.list {
		if e.Host == "tipy" && e.Kind == observe.KindTimer && e.RFC == "RFC 1122 §3.3.2" {
			icmp[e.Fields["id"].(uint16)] = e.Fields["icmp_time_exceeded"]
		}
	}
	if icmp[7] != true || icmp[8] != false {
		t.Fatalf("timeout events say ICMP time exceeded %v, want only for id 7 (first fragment received)", icmp)
	}
}
