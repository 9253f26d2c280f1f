package stack_test

// Congestion-control shape through the real TCP: one bulk transfer from a
// to b on a virtual switch with a delay and a rate-limited bottleneck, the
// applications on the loop, and the curves read from the "sample" events
// (cwnd, ssthresh, flight, SRTT) and the recovery events the connection
// publishes. The tests assert them against the formulas of RFC 5681,
// RFC 6582 and RFC 9438: slow start doubles cwnd per RTT; after one loss
// NewReno halves it and then adds one MSS per RTT; CUBIC reduces it by
// β = 0.7 and then follows W(t) = C(t−K)³ + W_max.
//
// The single loss is injected exactly: a wrapper around a's switch port
// drops the n-th data segment a sends, once.

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/tcp"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// dropNthLink is a tap.Link that loses the n-th TCP data segment sent
// through it (counting from 1), once; n = 0 loses nothing.
type dropNthLink struct {
	*tap.Port
	n, seen int
	dropped clock.Time
	loop    clock.Loop
}

// Send forwards the frame unless it is the segment to lose.
func (l *dropNthLink) Send(frame []byte) error {
	if l.n > 0 && l.seen < l.n {
		e := wire.Ethernet(frame)
		if e.Validate() == nil && e.Type() == wire.EtherTypeIPv4 {
			ip := wire.IPv4(e.Payload())
			if h, err := wire.ParseIPv4(ip); err == nil && h.Protocol == wire.ProtoTCP {
				if seg := wire.TCP(ip.Payload()); seg.Validate() == nil && len(seg.Payload()) > 0 {
					l.seen++
					if l.seen == l.n {
						l.dropped = l.loop.Now()
						return nil
					}
				}
			}
		}
	}
	return l.Port.Send(frame)
}

// ccPoint is one "sample" event of the sender.
type ccPoint struct {
	at       clock.Time
	cwnd     int
	ssthresh int // -1: infinite
	flight   int
	srtt     time.Duration
}

// ccMark is a recovery entry or exit of the sender.
type ccMark struct {
	at                     clock.Time
	event                  string // "recovery-enter", "recovery-exit"
	cwnd, ssthresh, flight int
}

// ccSink keeps the sender's samples and recovery events, and when the
// first duplicate ACK arrived.
type ccSink struct {
	host     string
	points   []ccPoint
	marks    []ccMark
	firstDup clock.Time
}

func (s *ccSink) Active() bool { return true }
func (s *ccSink) Publish(e observe.Event) {
	if e.Host != s.host || e.Layer != observe.LayerTCP {
		return
	}
	num := func(k string) int {
		switch v := e.Fields[k].(type) {
		case int:
			return v
		case uint32:
			return int(v)
		case float64:
			return int(v)
		}
		return 0
	}
	switch {
	case e.Kind == observe.KindRX:
		if s.firstDup == 0 && e.Fields["analysis"] == "duplicate ACK" {
			s.firstDup = clock.Time(e.TimeNS)
		}
	case e.Kind == observe.KindSample:
		srtt, _ := e.Fields["srtt_ms"].(float64)
		s.points = append(s.points, ccPoint{at: clock.Time(e.TimeNS), cwnd: num("cwnd"), ssthresh: num("ssthresh"),
			flight: num("flight"), srtt: time.Duration(srtt * 1e6)})
	case e.Fields["event"] == "recovery-enter" || e.Fields["event"] == "recovery-exit":
		s.marks = append(s.marks, ccMark{at: clock.Time(e.TimeNS), event: e.Fields["event"].(string),
			cwnd: num("cwnd"), ssthresh: num("ssthresh"), flight: num("flight")})
	}
}

// ccSetup describes one shape experiment.
type ccSetup struct {
	cc       string        // "newreno" or "cubic"
	noSACK   bool          // TCPConfig.DisableSACK on both stacks
	rate     uint64        // a's bottleneck, bits per second
	oneWay   time.Duration // delay each way
	dropNth  int           // the data segment of a to lose, 0 for none
	duration time.Duration // virtual time of the transfer
}

// ccRun is the outcome of an experiment.
type ccRun struct {
	points   []ccPoint
	marks    []ccMark
	mss      int // the sender's effective MSS (cc's SMSS)
	snap     stack.TCPSnapshot
	dropped  clock.Time
	firstDup clock.Time // the first duplicate ACK the sender received
}

// before returns the last sample at or before t (false if none).
func (r *ccRun) before(t clock.Time) (ccPoint, bool) {
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i].at > t })
	if i == 0 {
		return ccPoint{}, false
	}
	return r.points[i-1], true
}

// runCC runs a bulk transfer from a to b under su and returns the sender's
// curves.
func runCC(t *testing.T, su ccSetup) *ccRun {
	t.Helper()
	loop := clock.NewVirtual()
	sink := &ccSink{host: "a"}
	sw := tap.NewSwitch(loop, "lan", sink, 1)
	var hosts [2]*stack.Stack
	var macs [2]wire.MAC
	var drop *dropNthLink
	for i, name := range []string{"a", "b"} {
		macs[i] = wire.MAC{0x02, 0, 0, 0, 4, byte(i + 1)}
		cfg := stack.Config{Name: name, MAC: macs[i], Addr: netip.MustParsePrefix(fmt.Sprintf("10.0.4.%d/24", i+1)), Seed: 1}
		cfg.ARP.NoProbe = true
		port := sw.AddPort(name, cfg.MAC, 1500)
		imp := tap.Impairment{Delay: su.oneWay}
		var link tap.Link = port
		if i == 0 {
			// The bottleneck: a's frames are serialized at su.rate behind a
			// queue big enough never to overflow in these runs.
			imp.Rate, imp.Queue = su.rate, 16<<20
			drop = &dropNthLink{Port: port, n: su.dropNth, loop: loop}
			link = drop
		}
		if err := port.SetImpairment(tap.In, imp); err != nil {
			t.Fatal(err)
		}
		s, err := stack.New(cfg, link, loop, sink)
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = s
	}
	a, b := hosts[0], hosts[1]
	bAddr := netip.MustParseAddr("10.0.4.2")
	chunk := make([]byte, 64<<10)
	var failure error
	var client *stack.Socket
	loop.Call(func() {
		now := loop.Now()
		for _, s := range hosts {
			s.SetTCPConfig(stack.TCPConfig{DisableSACK: su.noSACK})
		}
		failure = cmpOr(a.AddStaticARP(bAddr, macs[1]), b.AddStaticARP(netip.MustParseAddr("10.0.4.1"), macs[0]))
		ls, err := b.SocketNow(now, stack.AF_INET, stack.SOCK_STREAM, 0)
		if err != nil {
			failure = err
			return
		}
		failure = cmpOr(failure,
			ls.SetSockoptNow(now, stack.SOL_SOCKET, stack.SO_RCVBUF, 32<<20),
			ls.BindNow(now, netip.AddrPortFrom(netip.IPv4Unspecified(), 5001)),
			ls.ListenNow(now, 1))
		// b reads and discards everything.
		ls.SetNotify(func() {
			c, err := ls.AcceptNow(loop.Now())
			if err != nil {
				return
			}
			read := func() {
				for {
					p, _, err := c.RecvFromNow(loop.Now(), 1<<20)
					if err != nil || len(p) == 0 {
						if err != nil && errno(err) != stack.EAGAIN {
							failure = err
						}
						return
					}
				}
			}
			c.SetNotify(read)
			read()
		})
		// a writes as fast as its send buffer takes data.
		ca, err := a.SocketNow(now, stack.AF_INET, stack.SOCK_STREAM, 0)
		if err != nil {
			failure = err
			return
		}
		client = ca
		failure = cmpOr(failure,
			ca.SetSockoptNow(now, stack.SOL_SOCKET, stack.SO_SNDBUF, 32<<20),
			ca.SetSockoptNow(now, stack.IPPROTO_TCP, stack.TCP_CONGESTION, su.cc))
		server := netip.AddrPortFrom(bAddr, 5001)
		ca.SetNotify(func() {
			now := loop.Now()
			if err := ca.ConnectNow(now, server); err != nil && errno(err) != stack.EISCONN {
				return
			}
			for {
				if _, err := ca.SendToNow(now, chunk, netip.AddrPort{}); err != nil {
					if errno(err) != stack.EAGAIN {
						failure = err
					}
					return
				}
			}
		})
		ca.ConnectNow(now, server)
	})
	if failure != nil {
		t.Fatalf("setup: %v", failure)
	}
	loop.RunFor(su.duration)
	if failure != nil {
		t.Fatalf("socket error: %v", failure)
	}
	r := &ccRun{points: sink.points, marks: sink.marks, dropped: drop.dropped, firstDup: sink.firstDup}
	loop.Call(func() {
		for _, c := range a.TCPConnections() {
			if c.SocketID == client.ID() {
				r.snap = c
			}
		}
	})
	if r.snap.State != "ESTABLISHED" {
		t.Fatalf("connection not established: %+v", r.snap)
	}
	if r.snap.Congestion != su.cc {
		t.Fatalf("congestion control %q, want %q", r.snap.Congestion, su.cc)
	}
	r.mss = r.snap.SndMSS
	if r.snap.Timestamps {
		r.mss -= 12 // TCP's SMSS leaves room for the timestamp option
	}
	if len(r.points) == 0 {
		t.Fatal("the connection published no sample events")
	}
	if first := r.points[0]; first.cwnd != tcp.InitialWindow(r.mss) {
		t.Fatalf("first cwnd %d, want the initial window %d (RFC 6928)", first.cwnd, tcp.InitialWindow(r.mss))
	}
	return r
}

// singleRecovery checks that exactly one loss recovery happened, with no
// retransmission timeout, and returns its entry and exit.
func (r *ccRun) singleRecovery(t *testing.T) (enter, exit ccMark) {
	t.Helper()
	if r.dropped == 0 {
		t.Fatal("the segment to lose was never sent")
	}
	if len(r.marks) != 2 || r.marks[0].event != "recovery-enter" || r.marks[1].event != "recovery-exit" {
		t.Fatalf("want one recovery (enter, exit) for one lost segment, got %+v", r.marks)
	}
	if r.snap.Timeouts != 0 || r.snap.FastRetransmits != 1 || r.snap.Retransmissions != 1 {
		t.Fatalf("one lost segment: %d timeouts, %d fast retransmits, %d retransmissions; want 0, 1, 1",
			r.snap.Timeouts, r.snap.FastRetransmits, r.snap.Retransmissions)
	}
	return r.marks[0], r.marks[1]
}

func (r *ccRun) trail(from, to clock.Time) string {
	var b strings.Builder
	for _, p := range r.points {
		if p.at >= from && p.at <= to {
			fmt.Fprintf(&b, "  %v cwnd %d (%.1f MSS) ssthresh %d flight %d srtt %v\n", p.at, p.cwnd, float64(p.cwnd)/float64(r.mss), p.ssthresh, p.flight, p.srtt)
		}
	}
	return b.String()
}

// TestTCPCCShapeSlowStart: without loss, cwnd doubles every RTT from the
// initial window (RFC 5681 §3.1 with RFC 3465's L = 2 and delayed ACKs:
// each ACK of two segments adds two).
func TestTCPCCShapeSlowStart(t *testing.T) {
	for _, cc := range []string{"newreno", "cubic"} {
		t.Run(cc, func(t *testing.T) {
			const oneWay = 50 * time.Millisecond
			r := runCC(t, ccSetup{cc: cc, rate: 1e9, oneWay: oneWay, duration: 800 * time.Millisecond})
			// Round 0 is the initial window, sent at t0, the first time
			// data is in flight. Sample late in each round, when the ACKs
			// of the previous round are all in, including the one for an
			// odd last segment, which waits for the 40 ms delayed-ACK
			// timer (the receiver's window update after the first read
			// acknowledges one segment alone, shifting the pairs).
			var t0 clock.Time
			for _, p := range r.points {
				if p.flight > 0 {
					t0 = p.at
					break
				}
			}
			rtt := 2 * oneWay
			iw := tcp.InitialWindow(r.mss)
			var got []string
			prev := 0
			for k := 0; k <= 6; k++ {
				p, _ := r.before(t0.Add(time.Duration(k)*rtt + rtt*9/10))
				got = append(got, fmt.Sprintf("%d: %.1f MSS", k, float64(p.cwnd)/float64(r.mss)))
				if p.ssthresh != -1 {
					t.Fatalf("round %d: ssthresh %d, want infinite (no loss)", k, p.ssthresh)
				}
				want := iw << k
				if math.Abs(float64(p.cwnd-want)) > 0.05*float64(want) {
					t.Fatalf("round %d: cwnd %d, want IW*2^%d = %d ±5%%\nrounds %v\n%s", k, p.cwnd, k, want, got, r.trail(0, t0.Add(time.Duration(k+1)*rtt)))
				}
				if k > 0 {
					if ratio := float64(p.cwnd) / float64(prev); ratio < 1.9 || ratio > 2.1 {
						t.Fatalf("round %d: cwnd grew ×%.2f in one RTT, want ×2", k, ratio)
					}
				}
				prev = p.cwnd
			}
			t.Logf("cwnd per RTT (IW %d bytes, MSS %d): %v", iw, r.mss, got)
		})
	}
}

// TestTCPCCShapeNewReno: one lost segment in slow start; fast recovery
// sets ssthresh = max(FlightSize/2, 2*SMSS) (RFC 5681 eq. 4) and leaves
// cwnd = ssthresh (RFC 6582 §3.2 step 6): the window is halved. Congestion
// avoidance then adds one SMSS per RTT (RFC 5681 eq. 3, byte counting).
// With and without SACK (RFC 6675 and RFC 6582 recovery).
func TestTCPCCShapeNewReno(t *testing.T) {
	for _, noSACK := range []bool{false, true} {
		name := "sack"
		if noSACK {
			name = "no-sack"
		}
		t.Run(name, func(t *testing.T) {
			const oneWay = 20 * time.Millisecond
			r := runCC(t, ccSetup{cc: "newreno", noSACK: noSACK, rate: 100e6, oneWay: oneWay, dropNth: 120, duration: 3 * time.Second})
			enter, exit := r.singleRecovery(t)
			before, _ := r.before(enter.at - 1)
			// ssthresh = max(FlightSize/2, 2*SMSS); whether FlightSize
			// includes what limited transmit sent after the first duplicate
			// ACK is checked by TestTCPCCLimitedTransmitFlightSize.
			pre, _ := r.before(r.firstDup - 1)
			if lo, hi := max(pre.flight/2, 2*r.mss), max(enter.flight/2, 2*r.mss); enter.ssthresh < lo || enter.ssthresh > hi {
				t.Fatalf("at recovery: ssthresh %d, want max(FlightSize/2, 2*SMSS) in [%d, %d] (flight %d before the duplicate ACKs, %d at entry)", enter.ssthresh, lo, hi, pre.flight, enter.flight)
			}
			if ratio := float64(enter.ssthresh) / float64(before.cwnd); ratio < 0.45 || ratio > 0.55 {
				t.Fatalf("recovery took cwnd %d to ssthresh %d: ×%.2f, want about ×0.5", before.cwnd, enter.ssthresh, ratio)
			}
			if exit.cwnd != exit.ssthresh || exit.ssthresh != enter.ssthresh {
				t.Fatalf("at the end of recovery cwnd %d ssthresh %d, want cwnd = ssthresh = %d", exit.cwnd, exit.ssthresh, enter.ssthresh)
			}
			// Congestion avoidance: every change of cwnd after recovery is
			// +1 SMSS, one per RTT.
			var steps []ccPoint
			last := exit.cwnd
			for _, p := range r.points {
				if p.at <= exit.at || p.cwnd == last {
					continue
				}
				if p.cwnd-last != r.mss {
					t.Fatalf("congestion avoidance: cwnd %d → %d at %v, want +SMSS (%d)\n%s", last, p.cwnd, p.at, r.mss, r.trail(exit.at, p.at))
				}
				if p.ssthresh != exit.ssthresh {
					t.Fatalf("ssthresh changed to %d at %v with no loss", p.ssthresh, p.at)
				}
				steps = append(steps, p)
				last = p.cwnd
			}
			if len(steps) < 20 {
				t.Fatalf("only %d increments of cwnd in congestion avoidance\n%s", len(steps), r.trail(exit.at, exit.at+clock.Time(time.Second)))
			}
			// The time between two increments is the time to acknowledge a
			// whole window, one RTT: compare it with the SRTT then.
			var ratios []float64
			for i := 1; i < len(steps); i++ {
				ratios = append(ratios, float64(steps[i].at.Sub(steps[i-1].at))/float64(steps[i].srtt))
			}
			sort.Float64s(ratios)
			med := ratios[len(ratios)/2]
			// An increment may slip by up to an RTT: after recovery cwnd need
			// not be a whole number of segments, the sender never sends the
			// fraction (sender SWS avoidance), so a window of bytes takes a
			// little longer than one RTT to be acknowledged now and then.
			if med < 0.9 || med > 1.15 || ratios[0] < 0.6 || ratios[len(ratios)-1] > 2.05 {
				t.Fatalf("interval between +SMSS steps / SRTT: median %.2f, range [%.2f, %.2f], want about 1", med, ratios[0], ratios[len(ratios)-1])
			}
			// And over the whole stage: one SMSS per RTT of elapsed time.
			span := steps[len(steps)-1].at.Sub(exit.at)
			rtts := float64(span) / float64(steps[len(steps)-1].srtt)
			if n := float64(len(steps)); n < 0.85*rtts || n > 1.15*rtts {
				t.Fatalf("%d increments in %v, %.1f RTTs: want one per RTT", len(steps), span, rtts)
			}
			t.Logf("loss at %v: cwnd %d → ssthresh %d (flight %d, ×%.2f); then %d × +%d bytes in %v (%.1f RTTs), step/SRTT median %.2f range [%.2f, %.2f]",
				r.dropped, before.cwnd, enter.ssthresh, enter.flight, float64(enter.ssthresh)/float64(before.cwnd), len(steps), r.mss, span, rtts, med, ratios[0], ratios[len(ratios)-1])
		})
	}
}

// TestTCPCCShapeCubic: one lost segment in slow start; CUBIC sets
// ssthresh = FlightSize*β with β = 0.7 and W_max = cwnd (RFC 9438 §4.6),
// and cwnd then follows W(t) = C(t−K)³ + W_max with C = 0.4 and
// K = cbrt(W_max(1−β)/C) (§4.2): concave up to W_max at t = K, convex
// beyond. The RTT is long enough that the Reno-friendly estimate (§4.3)
// stays below W(t).
func TestTCPCCShapeCubic(t *testing.T) {
	const oneWay = 50 * time.Millisecond
	const dur = 10 * time.Second
	r := runCC(t, ccSetup{cc: "cubic", rate: 200e6, oneWay: oneWay, dropNth: 120, duration: dur})
	enter, exit := r.singleRecovery(t)
	before, _ := r.before(enter.at - 1)
	mss := float64(r.mss)
	// ssthresh = FlightSize*β (see TestTCPCCLimitedTransmitFlightSize
	// for which FlightSize).
	pre, _ := r.before(r.firstDup - 1)
	if lo, hi := int(float64(pre.flight)*tcp.CubicBeta), int(float64(enter.flight)*tcp.CubicBeta); enter.ssthresh < lo-1 || enter.ssthresh > hi+1 {
		t.Fatalf("at recovery: ssthresh %d, want FlightSize*0.7 in [%d, %d] (flight %d before the duplicate ACKs, %d at entry)", enter.ssthresh, lo, hi, pre.flight, enter.flight)
	}
	if ratio := float64(enter.ssthresh) / float64(before.cwnd); ratio < 0.67 || ratio > 0.73 {
		t.Fatalf("recovery took cwnd %d to ssthresh %d: ×%.3f, want about β = 0.7", before.cwnd, enter.ssthresh, ratio)
	}
	if exit.cwnd != exit.ssthresh || exit.ssthresh != enter.ssthresh {
		t.Fatalf("at the end of recovery cwnd %d ssthresh %d, want cwnd = ssthresh = %d", exit.cwnd, exit.ssthresh, enter.ssthresh)
	}
	wMax := float64(before.cwnd) / mss
	k := math.Cbrt(wMax * (1 - tcp.CubicBeta) / tcp.CubicC)
	w := func(t float64) float64 { d := t - k; return tcp.CubicC*d*d*d + wMax }
	// The stage starts with the first ACK after recovery.
	var t0 clock.Time
	for _, p := range r.points {
		if p.at > exit.at {
			t0 = p.at
			break
		}
	}
	end := r.points[len(r.points)-1].at
	if sec := end.Sub(t0).Seconds(); sec < 1.3*k {
		t.Fatalf("the run covers %.1f s of congestion avoidance, want 1.3 K = %.1f s", sec, 1.3*k)
	}
	// Each ACK moves cwnd towards W(t+RTT) (§4.4): cwnd(t) lies between
	// W(t) and W(t+RTT), within a tolerance for the per-ACK steps.
	tol := 1.0 + 0.01*wMax
	var worst float64
	var table []string
	for i := 1; i <= 26; i++ {
		tt := t0.Add(time.Duration(float64(i) / 20 * k * float64(time.Second)))
		if tt > end {
			break
		}
		p, _ := r.before(tt)
		x := tt.Sub(t0).Seconds()
		rtt := p.srtt.Seconds()
		got := float64(p.cwnd) / mss
		lo, hi := min(w(x), w(x+rtt))-tol, max(w(x), w(x+rtt))+tol
		if got < lo || got > hi {
			t.Fatalf("t = %.2f s (%.2f K): cwnd %.1f segments, want W(t) = %.1f .. W(t+RTT) = %.1f (W_max %.1f, K %.2f s)\n%v",
				x, x/k, got, w(x), w(x+rtt), wMax, k, strings.Join(table, "\n"))
		}
		worst = max(worst, math.Abs(got-w(x+rtt/2)))
		table = append(table, fmt.Sprintf("  t %.2fs cwnd %.1f W(t) %.1f", x, got, w(x)))
	}
	// The shape itself: concave before K, the plateau at W_max, convex after.
	at := func(x float64) float64 {
		p, _ := r.before(t0.Add(time.Duration(x * float64(time.Second))))
		return float64(p.cwnd) / mss
	}
	if d1, d2 := at(0.5*k)-at(0.25*k), at(0.75*k)-at(0.5*k); !(d1 > d2 && d2 > 0) {
		t.Fatalf("not concave before K: growth %.1f then %.1f segments", d1, d2)
	}
	if plateau := at(k); math.Abs(plateau-wMax) > tol {
		t.Fatalf("cwnd at t = K is %.1f segments, want W_max = %.1f", plateau, wMax)
	}
	if d1, d2 := at(1.15*k)-at(1.0*k), at(1.3*k)-at(1.15*k); !(d2 > d1 && d1 >= 0) {
		t.Fatalf("not convex after K: growth %.1f then %.1f segments", d1, d2)
	}
	t.Logf("loss at %v: cwnd %.1f → ssthresh %.1f segments (×%.3f); W_max %.1f, K %.2f s; largest |cwnd − W(t+RTT/2)| %.2f segments\n%s",
		r.dropped, wMax, float64(enter.ssthresh)/mss, float64(enter.ssthresh)/float64(before.cwnd), wMax, k, worst, strings.Join(table, "\n"))
}

// TestTCPCCLimitedTransmitFlightSize: RFC 5681 §3.2 step 2 computes
// ssthresh at the third duplicate ACK from FlightSize, and "when [RFC3042]
// is in use, additional data sent in limited transmit MUST NOT be included
// in this calculation". The flight to use is the one before the first
// duplicate ACK; both algorithms must reduce from it (NewReno by 1/2,
// CUBIC by β = 0.7).
func TestTCPCCLimitedTransmitFlightSize(t *testing.T) {
	for _, su := range []struct {
		cc     string
		factor float64
		noSACK bool
	}{{"newreno", 0.5, false}, {"newreno", 0.5, true}, {"cubic", tcp.CubicBeta, false}} {
		t.Run(fmt.Sprintf("%s/nosack=%v", su.cc, su.noSACK), func(t *testing.T) {
			r := runCC(t, ccSetup{cc: su.cc, noSACK: su.noSACK, rate: 100e6, oneWay: 20 * time.Millisecond, dropNth: 120, duration: 600 * time.Millisecond})
			enter, _ := r.singleRecovery(t)
			if r.firstDup == 0 {
				t.Fatal("no duplicate ACK event")
			}
			pre, _ := r.before(r.firstDup - 1)
			limited := enter.flight - pre.flight
			want := max(int(float64(pre.flight)*su.factor), 2*r.mss)
			if math.Abs(float64(enter.ssthresh-want)) > 1 {
				t.Errorf("ssthresh %d at recovery, want %.1f × FlightSize %d = %d: the flight at entry, %d, counts %d bytes (%.1f segments) sent by limited transmit (RFC 5681 §3.2 step 2)",
					enter.ssthresh, su.factor, pre.flight, want, enter.flight, limited, float64(limited)/float64(r.mss))
			}
		})
	}
}
