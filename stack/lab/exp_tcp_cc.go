package lab

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/tap"
)

// The experiments on the sender's side of TCP: congestion control, and the
// two ways it finds out about a loss, duplicate ACKs and the timer.

// tcpCCProofs are the proofs that congestion control cc went through slow
// start, a loss and recovery.
func tcpCCProofs(cc string) []Proof {
	return []Proof{
		{Text: cc + ": cwnd grows in slow start (samples of the graph)", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindSample,
			Summary: "(" + cc + ", slow start)", Field: "cc", FieldValue: cc, Count: 5},
		{Text: cc + ": a loss lowers ssthresh and cwnd (loss recovery)", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo,
			Summary: "enter loss recovery", Field: "cc", FieldValue: cc},
		{Text: cc + ": after recovery, congestion avoidance", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo,
			Summary: cc + ": fast recovery → congestion avoidance", Field: "event", FieldValue: "cc-phase"},
	}
}

// expSlowStart: the same transfer through a bottleneck with NewReno, then
// with CUBIC.
var expSlowStart = &Experiment{
	ID:    "slow-start",
	Title: "Slow start and congestion avoidance: NewReno and CUBIC",
	Topic: "TCP",
	Explain: "The link into peer becomes a bottleneck: 20 Mbit/s with a 10 ms delay and a 40 KB queue that drops what does not fit, as a router's buffer does. " +
		"tipy sends 1.5 MB to peer's discard service twice, first with NewReno, then with CUBIC (chosen with the TCP_CONGESTION socket option). " +
		"Each starts in slow start (RFC 5681 §3.1): cwnd grows by what each ACK acknowledges, doubling every round trip, until the queue overflows and segments are lost. " +
		"Duplicate ACKs with SACK blocks report the loss: ssthresh drops (to half the flight for NewReno, to 70% for CUBIC, RFC 9438 §4.6), the holes are resent, and after recovery the window grows again in congestion avoidance: " +
		"NewReno by one segment per round trip, CUBIC along a cubic curve of the time since the loss.",
	Look: []Pointer{
		{Page: "tcp", Host: "tipy", Text: "the cwnd graph of each connection: the steep slow start, the drop at the loss, the slower growth after it"},
		{Page: "frames", Layers: "link,tcp", Text: "the frames the full queue drops, then the duplicate ACKs and the retransmissions"},
	},
	Proof: append(append([]Proof{
		{Text: "the bottleneck's queue overflows and drops a frame", Host: "lan/peer", Layer: observe.LayerLink, Kind: observe.KindDrop, Reason: tap.DropQueueFull},
	}, tcpCCProofs("newreno")...), tcpCCProofs("cubic")...),
	Run: func(ctx context.Context, env *Env) error {
		restore, err := tcpImpair(env, "lan/peer", tap.Impairment{Rate: 20e6, Queue: 40_000, Delay: 10 * time.Millisecond}, tap.Out)
		if err != nil {
			return err
		}
		defer restore()
		env.Logf("link lan/peer (towards peer): 20 Mbit/s, 10 ms delay, 40 KB queue")
		for _, cc := range []string{"newreno", "cubic"} {
			if err := tcpBulkSend(ctx, env, tcpPeer(tcpPortDiscard), 1_500_000, tcpOpt{stack.IPPROTO_TCP, stack.TCP_CONGESTION, cc}); err != nil {
				return fmt.Errorf("%s: %w", cc, err)
			}
		}
		restore()
		env.Logf("link lan/peer restored")
		return env.Sleep(ctx, defaultSettle)
	},
}

// tcpBulkSend sends n bytes from tipy to a sink at to (discard) on a socket
// with opts, closes its side and waits for the sink's FIN. The send buffer
// takes all n bytes at once, so that the transfer runs at the pace of the
// network alone, not of the goroutine that writes.
func tcpBulkSend(ctx context.Context, env *Env, to netip.AddrPort, n int, opts ...tcpOpt) error {
	var ts tcpSockets
	defer ts.closeAll()
	opts = append([]tcpOpt{{stack.SOL_SOCKET, stack.SO_SNDBUF, max(n, 2048)}}, opts...)
	so, err := ts.dial(ctx, env.Tipy(), to, opts...)
	if err != nil {
		return err
	}
	start := env.Net.Loop().Now()
	if err := tcpSendAll(ctx, so, tcpPattern(n, 6)); err != nil {
		return err
	}
	if err := tcpFinish(ctx, so, nil); err != nil {
		return err
	}
	snap, err := tcpSnapshotOf(env.Tipy(), so)
	if err != nil {
		return err
	}
	env.Logf("%s: %d bytes in %v of lab time; %d retransmissions, %d fast retransmits, %d timeouts",
		snap.Congestion, n, env.Net.Loop().Now().Sub(start).Round(time.Millisecond), snap.Retransmissions, snap.FastRetransmits, snap.Timeouts)
	return nil
}

// expFastRetransmit: exactly one data segment is lost; three duplicate
// ACKs bring it back long before the timer would.
var expFastRetransmit = &Experiment{
	ID:    "fast-retransmit",
	Title: "Fast retransmit and fast recovery",
	Topic: "TCP",
	Explain: "tipy sends eight full-sized segments to peer's discard service at once, and the link loses exactly the second one (the experiment makes tipy's link drop that single frame). " +
		"Each segment arriving after the hole makes peer repeat its acknowledgment of the last in-order byte: duplicate ACKs, with SACK blocks. " +
		"The third duplicate ACK tells tipy that the segment was lost while later ones got through, so it resends it at once instead of waiting for the retransmission timer, and halves its window (fast retransmit and fast recovery, RFC 5681 §3.2, RFC 6675). " +
		"The resent segment fills the gap, peer acknowledges everything, and recovery ends.",
	Look: []Pointer{
		{Page: "frames", Layers: "link,tcp", Text: "the dropped frame, three or more duplicate ACKs, then the retransmission"},
		{Page: "tcp", Host: "tipy", Text: "the time-sequence graph: one red retransmission, no timeout"},
	},
	Proof: []Proof{
		{Text: "the link loses one data segment", Layer: observe.LayerLink, Kind: observe.KindDrop, Reason: tap.DropLoss},
		{Text: "peer receives the next segments with a gap before them", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindRX, Summary: "out of order: a gap before it"},
		{Text: "tipy receives duplicate ACKs", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindRX, Summary: ": duplicate ACK", Count: 3},
		{Text: "tipy enters loss recovery and lowers its window", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo, Field: "event", FieldValue: "recovery-enter"},
		{Text: "tipy resends the lost segment at once: fast retransmit", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "fast retransmit (third duplicate ACK"},
		{Text: "the retransmission fills peer's gap", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindInfo, Field: "event", FieldValue: "gap-filled"},
		{Text: "everything is acknowledged: recovery ends", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo, Field: "event", FieldValue: "recovery-exit"},
	},
	Run: func(ctx context.Context, env *Env) error {
		var ts tcpSockets
		defer ts.closeAll()
		tipy := env.Tipy()
		so, err := ts.dial(ctx, tipy, tcpPeer(tcpPortDiscard), tcpOpt{stack.IPPROTO_TCP, stack.TCP_NODELAY, true})
		if err != nil {
			return err
		}
		snap, err := tcpSnapshotOf(tipy, so)
		if err != nil {
			return err
		}
		mss := tcpEffMSS(snap)
		if snap.Cwnd < 8*mss {
			return fmt.Errorf("tipy's cwnd is %d bytes, less than the 8 segments of %d bytes the experiment sends", snap.Cwnd, mss)
		}
		link, err := labLink(env, "lan/"+tipy.Name())
		if err != nil {
			return err
		}
		data := tcpPattern(8*mss, 7)
		// One turn of the loop: segment 1 leaves, the link loses every
		// frame while segment 2 leaves, segments 3 to 8 leave. Each
		// segment reaches the link as it is sent, so exactly segment 2 is
		// lost.
		var lost uint64
		tipy.Call(func() {
			now := tipy.Loop().Now()
			before := link.Stats().Drops[tap.DropLoss]
			if err = tcpSendNow(now, so, data[:mss]); err != nil {
				return
			}
			var restore func()
			if restore, err = tcpImpairNow(link, tap.Impairment{Loss: 1}, tap.In); err != nil {
				return
			}
			err = tcpSendNow(now, so, data[mss:2*mss])
			restore()
			if err == nil {
				err = tcpSendNow(now, so, data[2*mss:])
			}
			lost = link.Stats().Drops[tap.DropLoss] - before
		})
		if err != nil {
			return err
		}
		if lost != 1 {
			return fmt.Errorf("the link lost %d frames, want exactly 1", lost)
		}
		env.Logf("tipy sent 8 segments of %d bytes; the link lost the second one", mss)
		if err := env.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		if err := tcpFinish(ctx, so, nil); err != nil {
			return err
		}
		if snap, err = tcpSnapshotOf(tipy, so); err != nil {
			return err
		}
		if snap.FastRetransmits == 0 || snap.Timeouts != 0 {
			return fmt.Errorf("tipy: %d fast retransmits, %d timeouts; want a fast retransmit and no timeout", snap.FastRetransmits, snap.Timeouts)
		}
		env.Logf("tipy: %d duplicate ACKs in, %d fast retransmit, no timeout", snap.DupAcksIn, snap.FastRetransmits)
		return env.Sleep(ctx, defaultSettle)
	},
}

// expRTOBackoff: peer becomes unreachable in the middle of a transfer.
var expRTOBackoff = &Experiment{
	ID:    "rto-backoff",
	Title: "Retransmission timeout and exponential backoff",
	Topic: "TCP",
	Explain: "In the middle of a transfer to a server of peer, peer's link loses every frame for 3.5 seconds. " +
		"No ACK comes back, so duplicate ACKs cannot help: tipy's retransmission timer expires, tipy resends the oldest unacknowledged segment, drops cwnd to one segment (RFC 5681 §3.1) and doubles the timeout (RFC 6298 §5.5): 400 ms, 800 ms, 1.6 s, 3.2 s... " +
		"Backing off keeps a sender from flooding a network that is already in trouble. " +
		"When the link heals, the next retransmission gets through, its ACK resets the backoff, and the transfer completes from slow start.",
	Look: []Pointer{
		{Page: "tcp", Host: "tipy", Text: "the RTO graph doubling, cwnd falling to one segment, then the recovery"},
		{Page: "frames", Layers: "link,tcp", Text: "the lost frames and tipy's retransmissions at growing intervals"},
	},
	Proof: []Proof{
		{Text: "peer's link loses the frames", Host: "lan/peer", Layer: observe.LayerLink, Kind: observe.KindDrop, Reason: tap.DropLoss, Count: 3},
		{Text: "tipy's retransmission timer expires", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTimer, Summary: "timer retransmission fired", Count: 3},
		{Text: "the first timeout resends the oldest segment and doubles the RTO", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo,
			Summary: "retransmission timeout", Field: "backoffs", FieldValue: "1"},
		{Text: "the third timeout in a row: the RTO has doubled three times", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo,
			Summary: "retransmission timeout", Field: "backoffs", FieldValue: "3"},
		{Text: "each timeout resends the segment at SND.UNA", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "retransmission (RTO)", Count: 3},
	},
	Run: func(ctx context.Context, env *Env) error {
		var ts tcpSockets
		defer ts.closeAll()
		tipy := env.Tipy()
		client, server, err := ts.connect(ctx, env, tcpPortRTO, nil)
		if err != nil {
			return err
		}
		const half = 64 << 10
		data := tcpPattern(2*half, 8)
		peer := tcpPeerReceives(ctx, server, data)
		if err := tcpSendAll(ctx, client, data[:half]); err != nil {
			return err
		}
		if err := tcpWaitFor(ctx, env, client, 5*time.Second, "the first half acknowledged", func(s stack.TCPSnapshot) bool {
			return s.BytesAcked >= half
		}); err != nil {
			return err
		}
		env.Logf("the first %d bytes are through", half)
		// Cut the link and hand tipy the second half in one turn of the
		// loop, so that all of it meets the dead link.
		link, err := labLink(env, "lan/peer")
		if err != nil {
			return err
		}
		restore := func() {}
		tipy.Call(func() {
			var restoreNow func()
			if restoreNow, err = tcpImpairNow(link, tap.Impairment{Loss: 1}, tap.In, tap.Out); err != nil {
				return
			}
			restore = func() { tipy.Call(restoreNow) }
			err = tcpSendNow(tipy.Loop().Now(), client, data[half:])
		})
		defer restore()
		if err != nil {
			return err
		}
		env.Logf("link lan/peer loses every frame; tipy hands over the other %d bytes", half)
		if err := env.Sleep(ctx, 3500*time.Millisecond); err != nil {
			return err
		}
		snap, err := tcpSnapshotOf(tipy, client)
		if err != nil {
			return err
		}
		env.Logf("3.5 s later: %d timeouts so far, RTO now %v", snap.Timeouts, time.Duration(snap.RTOMS*1e6))
		restore()
		env.Logf("link lan/peer heals")
		if err := tcpFinish(ctx, client, peer); err != nil {
			return err
		}
		env.Logf("peer received all %d bytes", len(data))
		if snap, err = tcpSnapshotOf(tipy, client); err != nil {
			return err
		}
		env.Logf("transfer complete: %d timeouts, %d retransmissions", snap.Timeouts, snap.Retransmissions)
		return env.Sleep(ctx, defaultSettle)
	},
}
