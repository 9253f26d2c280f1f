package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/tap"
)

// The experiments on the receiver's side of TCP: when it acknowledges,
// what it does with segments that arrive out of order, and how its window
// (scaled, or closed to zero) paces the sender.

// expDelayedACK: the receiver waits a little before acknowledging, but
// never past the second full-sized segment.
var expDelayedACK = &Experiment{
	ID:    "delayed-ack",
	Title: "Delayed ACKs",
	Topic: "TCP",
	Explain: "A receiver need not acknowledge each segment at once: RFC 9293 §3.8.6.3 lets it wait up to 500 ms (tipy waits 40 ms) in the hope that an answer will carry the ACK for free. " +
		"tipy sends a short line to peer's echo service: peer arms its delayed-ACK timer, then the echo service writes the line back and the ACK rides on that data, so the timer is cancelled. " +
		"tipy reads the echo but has nothing to send, so its own timer runs out and a bare ACK leaves 40 ms later. " +
		"The wait has a limit: on a second connection, to the discard service, tipy sends eight full-sized segments at once and peer acknowledges every second one immediately.",
	Look: []Pointer{
		{Page: "frames", Layers: "tcp", Text: "the echo's data segment carrying the ACK, the bare ACK 40 ms after it, then one ACK for every two data segments"},
		{Page: "tcp", Host: "peer", Text: "the ladder of the discard connection: two segments in, one ACK out"},
	},
	Proof: []Proof{
		{Text: "peer delays its ACK of the line", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindTimer, Summary: "timer delayed-ack armed"},
		{Text: "the echo's data carries the ACK: peer's timer is cancelled", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindTimer, Summary: "timer delayed-ack cancelled"},
		{Text: "tipy has nothing to send back: its delayed-ACK timer fires", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTimer, Summary: "timer delayed-ack fired"},
		{Text: "the bare ACK sent when the timer fired", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "delayed ACK: the timer fired"},
		{Text: "every second full-sized segment is acknowledged at once", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "two full-sized segments arrived", Count: 3},
	},
	Run: func(ctx context.Context, env *Env) error {
		var ts tcpSockets
		defer ts.closeAll()
		tipy := env.Tipy()
		echo, err := ts.dial(ctx, tipy, tcpPeer(tcpPortEcho))
		if err != nil {
			return err
		}
		line := []byte("ping\r\n")
		if err := tcpEchoLine(ctx, echo, line); err != nil {
			return err
		}
		env.Logf("tipy sent %q to peer's echo service and read it back", line)
		if err := env.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
		env.Logf("200 ms later: tipy's delayed ACK has gone out")
		if err := tcpFinish(ctx, echo, nil); err != nil {
			return fmt.Errorf("echo: %w", err)
		}

		discard, err := ts.dial(ctx, tipy, tcpPeer(tcpPortDiscard))
		if err != nil {
			return err
		}
		snap, err := tcpSnapshotOf(tipy, discard)
		if err != nil {
			return err
		}
		const segs = 8
		data := tcpPattern(segs*tcpEffMSS(snap), 2)
		if err := tcpSendAll(ctx, discard, data); err != nil {
			return err
		}
		env.Logf("tipy sent %d full-sized segments (%d bytes each) to peer's discard service at once", segs, tcpEffMSS(snap))
		if err := env.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
		if err := tcpFinish(ctx, discard, nil); err != nil {
			return fmt.Errorf("discard: %w", err)
		}
		env.Logf("both connections closed")
		return env.Sleep(ctx, defaultSettle)
	},
}

// expOOOSACK: reordering and loss on peer's link during a transfer.
var expOOOSACK = &Experiment{
	ID:    "ooo-sack",
	Title: "Out-of-order segments and SACK",
	Topic: "TCP",
	Explain: "The link into peer is made to hold back 5% of the frames by 2 ms, so later ones overtake them, and to lose 1% (a seeded impairment: the same run gives the same losses). " +
		"tipy sends 300 000 bytes; when a segment arrives with a gap before it, peer keeps it in its out-of-order queue instead of delivering it, and acknowledges at once (RFC 5681 §4.2): " +
		"the ACK repeats the last in-order byte and carries SACK blocks (RFC 2018) naming the ranges held beyond the gap, so tipy knows exactly what is missing (RFC 6675). " +
		"When the missing segment arrives, late or resent, the gap is filled and the queued bytes go to the application in order: peer checks every byte against what tipy sent.",
	Look: []Pointer{
		{Page: "frames", Layers: "link,tcp", Text: "frames held back by the link, the receiver's immediate ACKs with sack blocks in their options"},
		{Page: "tcp", Host: "tipy", Text: "the time-sequence graph: segments out of order and the retransmissions"},
	},
	Proof: []Proof{
		{Text: "the link holds back a frame so later ones pass it", Host: "lan/peer", Layer: observe.LayerLink, Kind: observe.KindImpair, Summary: "held back"},
		{Text: "a segment arrives with a gap before it", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindRX, Summary: "out of order: a gap before it"},
		{Text: "peer keeps it in its out-of-order queue", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindInfo, Field: "event", FieldValue: "ooo-queued"},
		{Text: "peer acknowledges at once, repeating the last in-order byte", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "immediate ACK: out-of-order segment"},
		{Text: "its ACKs carry SACK blocks", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: ",sack "},
		{Text: "tipy records the SACKed ranges on its scoreboard", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo, Summary: "SACK scoreboard"},
		{Text: "the gap is filled and the queued bytes are delivered in order", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindInfo, Field: "event", FieldValue: "gap-filled"},
	},
	Run: func(ctx context.Context, env *Env) error {
		var ts tcpSockets
		defer ts.closeAll()
		data := tcpPattern(300_000, 3)
		// The send buffer takes it all at once: the transfer runs at the
		// pace of the network, not of this goroutine.
		client, server, err := ts.connect(ctx, env, tcpPortOOO, nil, tcpOpt{stack.SOL_SOCKET, stack.SO_SNDBUF, len(data)})
		if err != nil {
			return err
		}
		restore, err := tcpImpair(env, "lan/peer", tap.Impairment{Reorder: 0.05, ReorderDelay: 2 * time.Millisecond, Loss: 0.01}, tap.Out)
		if err != nil {
			return err
		}
		defer restore()
		env.Logf("link lan/peer (towards peer): reorder 5%% by 2 ms, loss 1%%")
		peer := tcpPeerReceives(ctx, server, data)
		if err := tcpSendAll(ctx, client, data); err != nil {
			return err
		}
		env.Logf("tipy sent %d bytes and its FIN", len(data))
		if err := tcpFinish(ctx, client, peer); err != nil {
			return err
		}
		env.Logf("peer received all %d bytes, identical to what tipy sent", len(data))
		restore()
		env.Logf("link lan/peer restored")
		snap, err := tcpSnapshotOf(env.Tipy(), client)
		if err == nil {
			env.Logf("tipy: %d retransmissions, %d fast retransmits, %d duplicate ACKs received", snap.Retransmissions, snap.FastRetransmits, snap.DupAcksIn)
		}
		return env.Sleep(ctx, defaultSettle)
	},
}

// expWindowScaling: a 1 MiB receive buffer needs the window scale option.
var expWindowScaling = &Experiment{
	ID:    "window-scaling",
	Title: "Window scaling for a large receive buffer",
	Topic: "TCP",
	Explain: "The window field of the TCP header has 16 bits: alone it can offer at most 65535 bytes, which on a path with 20 ms of delay limits a connection to about 3 MB/s whatever the link. " +
		"Both sockets get a 1 MiB receive buffer, so each SYN carries the window scale option with a shift of 5 (RFC 7323 §2): from then on every window field is multiplied by 32. " +
		"During a 2 MiB transfer over a link delayed by 20 ms, peer advertises windows of about a megabyte, far above 65535, and tipy can keep that much in flight. " +
		"The scale is fixed by the SYNs; a SYN's own window is never scaled.",
	Look: []Pointer{
		{Page: "frames", Layers: "tcp", Text: "wscale 5 in both SYNs, then window fields near 32768 that mean about a megabyte"},
		{Page: "tcp", Host: "tipy", Text: "the peer window line of the graph far above 64 KiB, and cwnd growing to it"},
	},
	Proof: []Proof{
		{Text: "tipy's SYN offers a window scale of 5 (for its 1 MiB buffer)", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "wscale 5"},
		{Text: "peer's SYN-ACK answers with its own scale of 5", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "wscale 5"},
		{Text: "both ends use window scaling with a shift of 5", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo, Summary: "wscale true (send 5, receive 5)"},
		{Text: "peer's scaled window is above 65535 bytes", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo, Field: "beyond_16_bits", FieldValue: "true"},
	},
	Run: func(ctx context.Context, env *Env) error {
		var ts tcpSockets
		defer ts.closeAll()
		const buf = 1 << 20
		client, server, err := ts.connect(ctx, env, tcpPortWScale, []tcpOpt{{stack.SOL_SOCKET, stack.SO_RCVBUF, buf}},
			tcpOpt{stack.SOL_SOCKET, stack.SO_RCVBUF, buf}, tcpOpt{stack.SOL_SOCKET, stack.SO_SNDBUF, 2 * buf})
		if err != nil {
			return err
		}
		env.Logf("both sockets have a %d-byte receive buffer; connected", buf)
		restore, err := tcpImpair(env, "lan/peer", tap.Impairment{Delay: 20 * time.Millisecond}, tap.Out)
		if err != nil {
			return err
		}
		defer restore()
		env.Logf("link lan/peer (towards peer): 20 ms delay")
		data := tcpPattern(2<<20, 4)
		peer := tcpPeerReceives(ctx, server, data)
		start := env.Net.Loop().Now()
		if err := tcpSendAll(ctx, client, data); err != nil {
			return err
		}
		snap, err := tcpSnapshotOf(env.Tipy(), client)
		if err != nil {
			return err
		}
		if err := client.Shutdown(stack.SHUT_WR); err != nil {
			return err
		}
		if err := peer.wait(ctx); err != nil {
			return err
		}
		took := env.Net.Loop().Now().Sub(start)
		env.Logf("peer received all %d bytes in %v of lab time", len(data), took.Round(time.Millisecond))
		if err := tcpExpectEOF(ctx, client); err != nil {
			return err
		}
		restore()
		if !snap.WindowScale || snap.SndWndScale != 5 {
			return fmt.Errorf("tipy: window scaling %v, send shift %d; want on with shift 5", snap.WindowScale, snap.SndWndScale)
		}
		env.Logf("mid-transfer, tipy's SND.WND was %d bytes (shift %d) and cwnd %d", snap.SndWnd, snap.SndWndScale, snap.Cwnd)
		return env.Sleep(ctx, defaultSettle)
	},
}

// expZeroWindow: a receiver that does not read closes its window; the
// sender probes it until it reopens.
var expZeroWindow = &Experiment{
	ID:    "zero-window",
	Title: "Zero window and the persist timer",
	Topic: "TCP",
	Explain: "A server of peer with an 8 KiB receive buffer accepts tipy's connection but does not read. " +
		"tipy sends 48 KiB: once 8 KiB wait unread, peer's window falls to 0 and tipy must stop. " +
		"If the ACK that reopens the window were lost, both would wait forever, so tipy arms the persist timer and sends zero-window probes, backing off each time (RFC 9293 §3.8.6.1); peer answers each with its window, still 0. " +
		"Three seconds later the server reads: the free space makes peer send a window update, tipy's persist timer stops and the data flows again until all 48 KiB are through.",
	Look: []Pointer{
		{Page: "frames", Layers: "tcp", Text: "peer's ACKs with win 0, tipy's probes at growing intervals, then the window update"},
		{Page: "tcp", Host: "tipy", Text: "the peer window line dropping to 0 and coming back"},
	},
	Proof: []Proof{
		{Text: "peer's buffer is full: it advertises a zero window", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: ", win 0, options ["},
		{Text: "tipy learns that the window is zero", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo, Summary: "peer window", Field: "to", FieldValue: "0"},
		{Text: "tipy arms the persist timer", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTimer, Summary: "timer persist armed"},
		{Text: "tipy probes the closed window", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "zero-window probe", Count: 2},
		{Text: "the server reads: peer sends a window update", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "window update: the application read"},
		{Text: "tipy sees the window reopen", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo, Summary: "peer window 0 →"},
		{Text: "the persist timer stops", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTimer, Summary: "timer persist cancelled"},
	},
	Run: func(ctx context.Context, env *Env) error {
		var ts tcpSockets
		defer ts.closeAll()
		const buf = 8 << 10
		client, server, err := ts.connect(ctx, env, tcpPortZeroWnd, []tcpOpt{{stack.SOL_SOCKET, stack.SO_RCVBUF, buf}})
		if err != nil {
			return err
		}
		env.Logf("peer's server (receive buffer %d bytes) accepted tipy's connection and does not read", buf)
		data := tcpPattern(48<<10, 5)
		if err := tcpSendAll(ctx, client, data); err != nil {
			return err
		}
		if err := client.Shutdown(stack.SHUT_WR); err != nil {
			return err
		}
		env.Logf("tipy queued %d bytes and its FIN", len(data))
		if err := tcpWaitFor(ctx, env, client, 5*time.Second, "peer's window closes", func(s stack.TCPSnapshot) bool {
			return s.SndWnd == 0
		}); err != nil {
			return err
		}
		env.Logf("peer's window is 0: tipy probes it")
		if err := env.Sleep(ctx, 3*time.Second); err != nil {
			return err
		}
		snap, err := tcpSnapshotOf(env.Tipy(), client)
		if err != nil {
			return err
		}
		env.Logf("after 3 s, tipy has sent %d zero-window probes; the server starts reading", snap.Probes)
		if err := tcpExpectStream(ctx, server, data); err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		env.Logf("the server read all %d bytes", len(data))
		if err := server.Close(); err != nil {
			return err
		}
		if err := tcpExpectEOF(ctx, client); err != nil {
			return err
		}
		return env.Sleep(ctx, defaultSettle)
	},
}
