package stack_test

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// hashSink hashes every event, so that two runs can be compared cheaply.
type hashSink struct {
	h hash.Hash64
	n int
}

func (h *hashSink) Active() bool { return true }
func (h *hashSink) Publish(e observe.Event) {
	fmt.Fprintf(h.h, "%d %s %s %s %s\n", e.TimeNS, e.Host, e.Kind, e.Conn, e.Summary)
	h.n++
}

// simResult is what one simulated transfer produced.
type simResult struct {
	trace      uint64
	events     int
	end        clock.Time
	sumAB      [32]byte // what B received from A
	sumBA      [32]byte
	retransmit uint64
	timeouts   uint64
	fast       uint64
	failed     error // a clean failure (the connection gave up with an errno)
}

func cmpOr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// simTransfer sends size bytes from A to B and from B to A at once through
// a switch impaired by spec, with non-blocking sockets driven from the test
// goroutine between steps of the virtual loop, so that a seed fixes the run.
func simTransfer(t *testing.T, seed uint64, size int, spec string, limit time.Duration) simResult {
	t.Helper()
	loop := clock.NewVirtual()
	sink := &hashSink{h: fnv.New64a()}
	sw := tap.NewSwitch(loop, "lan", sink, seed)
	imp, err := tap.ParseImpairment(spec)
	if err != nil {
		t.Fatal(err)
	}
	var hosts [2]*stack.Stack
	for i, name := range []string{"a", "b"} {
		cfg := stack.Config{Name: name, MAC: wire.MAC{0x02, 0, 0, 0, 2, byte(i + 1)},
			Addr: netip.MustParsePrefix(fmt.Sprintf("10.0.1.%d/24", i+1)), Seed: seed}
		cfg.ARP.NoProbe = true
		port := sw.AddPort(name, cfg.MAC, 1500)
		// Corruption acts only where a frame enters the switch, so that a
		// frame is corrupted at most once: two bit flips in one frame can
		// cancel in the 16-bit Internet checksum (same bit, same byte
		// parity, opposite directions), which no TCP can detect.
		out := imp
		out.Corrupt, out.CorruptBits = 0, 0
		if err := port.SetImpairment(tap.In, imp); err != nil {
			t.Fatal(err)
		}
		if err := port.SetImpairment(tap.Out, out); err != nil {
			t.Fatal(err)
		}
		s, err := stack.New(cfg, port, loop, sink)
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = s
	}
	a, b := hosts[0], hosts[1]
	ls, _ := b.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	ls.SetTimeout(0)
	if err := ls.Bind(netip.MustParseAddrPort("0.0.0.0:5001")); err != nil {
		t.Fatal(err)
	}
	ls.Listen(8)
	ca, _ := a.Socket(stack.AF_INET, stack.SOCK_STREAM, 0)
	ca.SetTimeout(0)
	ca.Connect(netip.MustParseAddrPort("10.0.1.2:5001"))

	data := func(s uint64) []byte {
		r := rand.New(rand.NewPCG(seed, s))
		p := make([]byte, size)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return p
	}
	type side struct {
		so     *stack.Socket
		out    []byte
		sent   int
		shut   bool
		in     hash.Hash
		got    int
		kept   []byte
		eof    bool
		failed error
	}
	sa := &side{so: ca, out: data(1), in: sha256.New()}
	sb := &side{out: data(2), in: sha256.New()}
	deadline := loop.Now().Add(limit)
	connected := false
	step := func(sd *side) {
		if sd.so == nil || sd.failed != nil {
			return
		}
		for sd.sent < len(sd.out) {
			n, err := sd.so.Send(sd.out[sd.sent:min(len(sd.out), sd.sent+64<<10)])
			if err != nil {
				if errno(err) != stack.EAGAIN {
					sd.failed = err
				}
				break
			}
			sd.sent += n
		}
		if sd.sent == len(sd.out) && !sd.shut {
			sd.shut = true
			if err := sd.so.Shutdown(stack.SHUT_WR); err != nil {
				sd.failed = err
			}
		}
		for !sd.eof {
			p, err := sd.so.Recv(64 << 10)
			if err != nil {
				if errno(err) != stack.EAGAIN {
					sd.failed = err
				}
				break
			}
			if len(p) == 0 {
				sd.eof = true
				break
			}
			sd.in.Write(p)
			sd.got += len(p)
			sd.kept = append(sd.kept, p...)
		}
	}
	for loop.Now() < deadline {
		if !connected {
			switch err := ca.Connect(netip.MustParseAddrPort("10.0.1.2:5001")); errno(err) {
			case 0, stack.EISCONN:
				connected = true
			case stack.EALREADY, stack.EINPROGRESS, stack.EAGAIN:
			default:
				sa.failed = err
			}
		}
		if sb.so == nil {
			if c, _, err := ls.Accept(); err == nil {
				c.SetTimeout(0)
				sb.so = c
			}
		}
		if connected {
			step(sa)
		}
		step(sb)
		if err := cmpOr(sa.failed, sb.failed); err != nil {
			// A clean failure: a socket error with an errno, never a hang.
			switch errno(err) {
			case stack.EHOSTUNREACH, stack.ETIMEDOUT, stack.ECONNRESET, stack.ECONNREFUSED:
			default:
				t.Fatalf("seed %d: transfer failed with an unexpected error: a %v, b %v", seed, sa.failed, sb.failed)
			}
			return simResult{failed: err, end: loop.Now()}
		}
		if sa.eof && sb.eof && sa.shut && sb.shut {
			break
		}
		loop.RunFor(time.Millisecond)
	}
	if !(sa.eof && sb.eof) {
		var cs []stack.TCPSnapshot
		a.Call(func() { cs = append(a.TCPConnections(), b.TCPConnections()...) })
		t.Fatalf("seed %d: not done by %v: a sent %d got %d eof %v; b sent %d got %d eof %v\n%+v", seed, limit, sa.sent, sa.got, sa.eof, sb.sent, sb.got, sb.eof, cs)
	}
	var r simResult
	r.end = loop.Now()
	copy(r.sumAB[:], sb.in.Sum(nil))
	copy(r.sumBA[:], sa.in.Sum(nil))
	if r.sumAB != sha256.Sum256(sa.out) || r.sumBA != sha256.Sum256(sb.out) {
		first := func(got, want []byte) int {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					return i
				}
			}
			return -1
		}
		t.Fatalf("seed %d: SHA-256 mismatch: b got %d bytes (first difference at %d), a got %d (first difference at %d)",
			seed, sb.got, first(sb.kept, sa.out), sa.got, first(sa.kept, sb.out))
	}
	a.Call(func() {
		r.retransmit = a.TCPStats().Retransmissions + b.TCPStats().Retransmissions
		for _, c := range append(a.TCPConnections(), b.TCPConnections()...) {
			r.timeouts += c.Timeouts
			r.fast += c.FastRetransmits
		}
	})
	// Let both sides finish closing (TIME-WAIT is 2*MSL = 60 s by default).
	ca.Close()
	sb.so.Close()
	loop.RunFor(2 * time.Minute)
	var left int
	a.Call(func() { left = len(a.TCPConnections()) + len(b.TCPConnections()) })
	if left != 0 {
		t.Fatalf("seed %d: %d connections left after close", seed, left)
	}
	r.trace, r.events = sink.h.Sum64(), sink.n
	return r
}

func TestTCPSimCleanLink(t *testing.T) {
	r := simTransfer(t, 1, 1<<20, "delay=1ms", 60*time.Second)
	if r.retransmit != 0 {
		t.Fatalf("%d retransmissions on a perfect link", r.retransmit)
	}
	t.Logf("1 MiB each way on a clean 1 ms link: %v virtual, %d events", r.end, r.events)
}

func TestTCPSimImpaired(t *testing.T) {
	const spec = "loss=3%,reorder=5%,reorder-delay=3ms,dup=2%,corrupt=1%,delay=2ms,jitter=500us"
	seeds := []uint64{1, 2, 3, 4, 5}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		r := simTransfer(t, seed, 1<<20, spec, 10*time.Minute)
		if r.failed != nil {
			t.Fatalf("seed %d: %v", seed, r.failed)
		}
		t.Logf("seed %d: %v virtual, %d retransmissions (%d timeouts, %d fast retransmits), %d events", seed, r.end, r.retransmit, r.timeouts, r.fast, r.events)
		if seed == 1 {
			r2 := simTransfer(t, seed, 1<<20, spec, 10*time.Minute)
			if r2.trace != r.trace || r2.end != r.end {
				t.Fatalf("seed %d: two runs differ: trace %x/%x end %v/%v", seed, r.trace, r2.trace, r.end, r2.end)
			}
		}
	}
}

// TestTCPSimHeavyLoss runs seeded transfers through heavy and bursty loss,
// reordering, duplication and corruption. TIPY_TCP_SEEDS raises the
// number of seeds (the acceptance of issue 4 asks for 500 with 4 MiB).
func TestTCPSimHeavyLoss(t *testing.T) {
	seeds, size := 6, 256<<10
	if n, err := strconv.Atoi(os.Getenv("TIPY_TCP_SEEDS")); err == nil && n > 0 {
		seeds, size = n, 4<<20
	}
	if testing.Short() {
		seeds = 2
	}
	specs := []string{
		"loss=10%,delay=5ms,jitter=1ms",
		"burst=2%/30%,dup=5%,reorder=10%,reorder-delay=4ms,delay=3ms",
		"loss=5%,corrupt=3%,dup=3%,reorder=5%,delay=1ms",
	}
	for seed := uint64(100); seed < uint64(100+seeds); seed++ {
		spec := specs[int(seed)%len(specs)]
		r := simTransfer(t, seed, size, spec, 3*time.Hour)
		if r.failed != nil {
			t.Logf("seed %d (%s): failed cleanly at %v: %v", seed, spec, r.end, r.failed)
			continue
		}
		t.Logf("seed %d (%s): %v virtual, %d retransmissions (%d timeouts)", seed, spec, r.end, r.retransmit, r.timeouts)
	}
}
