package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
)

// The experiments on opening and closing connections: the handshake and
// the orderly close, the abortive close of SO_LINGER 0, and half-close
// with Shutdown.

// tcpStateProof is a proof that host's connection went through a transition.
func tcpStateProof(text, host, transition string) Proof {
	return Proof{Text: text, Host: host, Layer: observe.LayerTCP, Kind: observe.KindState, Summary: transition}
}

// expTCPHandshake: a connection to peer's echo service, from the SYN to
// TIME-WAIT.
var expTCPHandshake = &Experiment{
	ID:    "tcp-handshake",
	Title: "TCP three-way handshake and orderly close",
	Topic: "TCP",
	Explain: "tipy opens a connection to peer's echo service: it sends a SYN carrying its options (MSS, window scale, SACK-permitted, timestamps), " +
		"peer answers with a SYN-ACK carrying its own, and tipy's ACK completes the three-way handshake of RFC 9293 §3.5; an option is used only when both SYNs carry it. " +
		"After one line goes there and back, tipy shuts down its sending side: its FIN takes it to FIN-WAIT-1, peer's ACK to FIN-WAIT-2. " +
		"Peer is told by the FIN that no more data comes (CLOSE-WAIT), closes in turn and waits in LAST-ACK for the ACK of its own FIN. " +
		"tipy, the side that closed first, stays in TIME-WAIT for 2*MSL (60 s here) so that late segments of this connection die out before the same addresses can be reused (RFC 9293 §3.6).",
	Look: []Pointer{
		{Page: "tcp", Host: "tipy", Text: "the state diagram: CLOSED → SYN-SENT → ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT, and the ladder of segments"},
		{Page: "frames", Layers: "tcp", Text: "the SYN, SYN-ACK and ACK with their options, then the data, the two FINs and their ACKs"},
	},
	Proof: []Proof{
		{Text: "tipy sends a SYN with its options", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: ": SYN (active open)"},
		{Text: "peer answers with a SYN-ACK", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: ": SYN-ACK"},
		{Text: "both SYNs carried window scaling, timestamps and SACK-permitted, so all three are in use", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindInfo,
			Summary: "timestamps true, SACK true", Field: "wscale", FieldValue: "true"},
		tcpStateProof("tipy: CLOSED → SYN-SENT (connect sends the SYN)", "tipy", "CLOSED → SYN-SENT"),
		tcpStateProof("tipy: SYN-SENT → ESTABLISHED (the SYN-ACK arrived)", "tipy", "SYN-SENT → ESTABLISHED"),
		tcpStateProof("peer: LISTEN → SYN-RECEIVED (a SYN for its listening socket)", "peer", "LISTEN → SYN-RECEIVED"),
		tcpStateProof("peer: SYN-RECEIVED → ESTABLISHED (the ACK of its SYN-ACK)", "peer", "SYN-RECEIVED → ESTABLISHED"),
		tcpStateProof("tipy: ESTABLISHED → FIN-WAIT-1 (its FIN is sent)", "tipy", "ESTABLISHED → FIN-WAIT-1"),
		tcpStateProof("peer: ESTABLISHED → CLOSE-WAIT (it received the FIN)", "peer", "ESTABLISHED → CLOSE-WAIT"),
		tcpStateProof("tipy: FIN-WAIT-1 → FIN-WAIT-2 (its FIN was acknowledged)", "tipy", "FIN-WAIT-1 → FIN-WAIT-2"),
		tcpStateProof("peer: CLOSE-WAIT → LAST-ACK (it closed and sent its FIN)", "peer", "CLOSE-WAIT → LAST-ACK"),
		tcpStateProof("tipy: FIN-WAIT-2 → TIME-WAIT (peer's FIN arrived)", "tipy", "FIN-WAIT-2 → TIME-WAIT"),
		tcpStateProof("peer: LAST-ACK → CLOSED (its FIN was acknowledged)", "peer", "LAST-ACK → CLOSED"),
		{Text: "tipy waits 2*MSL in TIME-WAIT", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTimer, Summary: "timer time-wait armed"},
	},
	Run: func(ctx context.Context, env *Env) error {
		var ts tcpSockets
		defer ts.closeAll()
		env.Logf("tipy connects to peer's echo service (%s)", tcpPeer(tcpPortEcho))
		so, err := ts.dial(ctx, env.Tipy(), tcpPeer(tcpPortEcho))
		if err != nil {
			return err
		}
		env.Logf("connected from %s: the handshake is done", so.LocalAddr())
		line := []byte("hello, peer\r\n")
		if err := tcpEchoLine(ctx, so, line); err != nil {
			return err
		}
		env.Logf("sent %q and read it back", line)
		if err := so.Shutdown(stack.SHUT_WR); err != nil {
			return err
		}
		env.Logf("tipy shuts down its sending side: a FIN goes out")
		if err := tcpExpectEOF(ctx, so); err != nil {
			return fmt.Errorf("waiting for peer's FIN: %w", err)
		}
		env.Logf("recv returned the end of the stream: peer's FIN arrived")
		if err := env.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		if err := tcpWantState(env.Tipy(), so, "TIME-WAIT"); err != nil {
			return err
		}
		env.Logf("tipy's side is in TIME-WAIT; closing the socket leaves the connection there until 2*MSL passes")
		return nil
	},
}

// expLingerAbort: Close with SO_LINGER on and 0 s resets the connection.
var expLingerAbort = &Experiment{
	ID:    "linger-abort",
	Title: "SO_LINGER 0: close with a reset",
	Topic: "TCP",
	Explain: "Normally close sends a FIN after the data still queued and the connection ends in an orderly way. " +
		"With SO_LINGER on and a linger time of 0 seconds, close aborts instead: tipy throws away its queued data, sends a RST and forgets the connection at once, without TIME-WAIT (the ABORT call of RFC 9293 §3.10.5). " +
		"The reset reaches peer, whose connection closes immediately (RFC 9293 §3.10.7.4): its next receive fails with ECONNRESET, connection reset by peer. " +
		"Programs use it to drop a connection quickly, at the price of losing whatever was still in flight.",
	Look: []Pointer{
		{Page: "frames", Layers: "tcp", Text: "the data, then a single segment with the R flag instead of a FIN"},
		{Page: "tcp", Host: "peer", Text: "peer's side going straight from ESTABLISHED to CLOSED"},
		{Page: "sockets", Host: "peer", Text: "the error of peer's socket: ECONNRESET"},
	},
	Proof: []Proof{
		{Text: "close with SO_LINGER 0 sends a reset", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindTX, Summary: "reset: close with SO_LINGER 0: abort"},
		tcpStateProof("tipy forgets the connection at once: ESTABLISHED → CLOSED, no TIME-WAIT", "tipy", "ESTABLISHED → CLOSED"),
		{Text: "peer receives the reset", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindRX, Summary: "Flags [R"},
		{Text: "peer's connection closes on the reset", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindState,
			Summary: "ESTABLISHED → CLOSED", Field: "trigger", FieldValue: "RST received"},
		{Text: "peer's next receive fails with ECONNRESET", Host: "peer", Layer: observe.LayerSocket, Kind: observe.KindError, Reason: "ECONNRESET"},
	},
	Run: func(ctx context.Context, env *Env) error {
		var ts tcpSockets
		defer ts.closeAll()
		client, server, err := ts.connect(ctx, env, tcpPortLinger, nil)
		if err != nil {
			return err
		}
		env.Logf("tipy %s is connected to a listener of peer on port %d", client.LocalAddr(), tcpPortLinger)
		msg := []byte("last words before the reset\n")
		if err := tcpSendAll(ctx, client, msg); err != nil {
			return err
		}
		if _, err := tcpRecvN(ctx, server, len(msg)); err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		env.Logf("peer read tipy's %d bytes", len(msg))
		if err := client.SetSockopt(stack.SOL_SOCKET, stack.SO_LINGER, stack.Linger{On: true, Seconds: 0}); err != nil {
			return err
		}
		env.Logf("tipy sets SO_LINGER {on, 0 s} and closes its socket")
		if err := client.Close(); err != nil {
			return err
		}
		_, err = server.RecvContext(ctx, 4096)
		if !tcpIsReset(err) {
			return fmt.Errorf("peer's receive after the reset returned %v, want ECONNRESET", err)
		}
		env.Logf("peer's receive failed: %v", err)
		return env.Sleep(ctx, defaultSettle)
	},
}

// expShutdown: half-close with SHUT_WR, then SHUT_RD on the same socket.
var expShutdown = &Experiment{
	ID:    "shutdown",
	Title: "Half-close: shutdown(SHUT_WR) and shutdown(SHUT_RD)",
	Topic: "TCP",
	Explain: "tipy sends a 20000-byte request to a server of peer, then calls shutdown(SHUT_WR): a FIN follows the queued data, so peer reads all 20000 bytes and then the end of the stream (RFC 9293 §3.10.4). " +
		"Closing one direction does not close the other: peer, in CLOSE-WAIT, still sends its answer, and tipy, in FIN-WAIT-2, still receives it. " +
		"Then tipy calls shutdown(SHUT_RD): its next receives return the end of the stream at once, and data peer sends afterwards is acknowledged and thrown away (as Linux does), which the stack reports as a drop. " +
		"Peer finally closes: its FIN takes tipy to TIME-WAIT.",
	Look: []Pointer{
		{Page: "tcp", Host: "tipy", Text: "tipy in FIN-WAIT-2 while data still arrives from peer, then TIME-WAIT"},
		{Page: "frames", Layers: "tcp", Text: "the FIN on tipy's last data segment, peer's data after it, and the drop after SHUT_RD"},
	},
	Proof: []Proof{
		tcpStateProof("shutdown(SHUT_WR) sends a FIN after the queued data: ESTABLISHED → FIN-WAIT-1", "tipy", "ESTABLISHED → FIN-WAIT-1"),
		{Text: "peer receives tipy's FIN", Host: "peer", Layer: observe.LayerTCP, Kind: observe.KindRX, Summary: "Flags [F"},
		tcpStateProof("peer knows no more data comes: ESTABLISHED → CLOSE-WAIT", "peer", "ESTABLISHED → CLOSE-WAIT"),
		tcpStateProof("tipy's FIN is acknowledged: FIN-WAIT-1 → FIN-WAIT-2, where it still receives", "tipy", "FIN-WAIT-1 → FIN-WAIT-2"),
		{Text: "after SHUT_RD, data from peer is acknowledged and discarded", Host: "tipy", Layer: observe.LayerTCP, Kind: observe.KindDrop, Reason: "tcp-read-shut"},
		tcpStateProof("peer closes: CLOSE-WAIT → LAST-ACK", "peer", "CLOSE-WAIT → LAST-ACK"),
		tcpStateProof("peer's FIN takes tipy to TIME-WAIT", "tipy", "FIN-WAIT-2 → TIME-WAIT"),
	},
	Run: func(ctx context.Context, env *Env) error {
		var ts tcpSockets
		defer ts.closeAll()
		client, server, err := ts.connect(ctx, env, tcpPortShutdown, nil)
		if err != nil {
			return err
		}
		const reqLen, partLen = 20000, 4096
		req, part1, part2 := tcpPattern(reqLen, 10), tcpPattern(partLen, 11), tcpPattern(partLen, 12)
		rdShut := make(chan struct{})
		// Peer: read the request to its end, answer, and after tipy's
		// SHUT_RD send more, then close.
		peer := tcpGo(func() error {
			if err := tcpExpectStream(ctx, server, req); err != nil {
				return fmt.Errorf("peer reading the request: %w", err)
			}
			env.Logf("peer read the whole request (%d bytes), then the end of the stream; it answers anyway", reqLen)
			if err := tcpSendAll(ctx, server, part1); err != nil {
				return fmt.Errorf("peer: %w", err)
			}
			select {
			case <-rdShut:
			case <-ctx.Done():
				return ctx.Err()
			}
			if err := tcpSendAll(ctx, server, part2); err != nil {
				return fmt.Errorf("peer: %w", err)
			}
			env.Logf("peer sent %d more bytes after tipy's SHUT_RD", partLen)
			if err := env.Sleep(ctx, 500*time.Millisecond); err != nil {
				return err
			}
			env.Logf("peer closes its socket")
			return server.Close()
		})
		if err := tcpSendAll(ctx, client, req); err != nil {
			return err
		}
		if err := client.Shutdown(stack.SHUT_WR); err != nil {
			return err
		}
		env.Logf("tipy queued a %d-byte request and called shutdown(SHUT_WR)", reqLen)
		got, err := tcpRecvN(ctx, client, partLen)
		if err != nil {
			return fmt.Errorf("tipy reading the answer: %w", err)
		}
		if err := tcpSameBytes(got, part1); err != nil {
			return fmt.Errorf("the answer: %w", err)
		}
		if err := tcpWantState(env.Tipy(), client, "FIN-WAIT-2"); err != nil {
			return fmt.Errorf("tipy received the answer: %w", err)
		}
		env.Logf("tipy, in FIN-WAIT-2, received peer's %d-byte answer: half-close", partLen)
		if err := client.Shutdown(stack.SHUT_RD); err != nil {
			return err
		}
		if err := tcpExpectEOF(ctx, client); err != nil {
			return fmt.Errorf("receive after SHUT_RD: %w", err)
		}
		env.Logf("tipy called shutdown(SHUT_RD): its receive returns the end of the stream at once")
		close(rdShut)
		if err := peer.wait(ctx); err != nil {
			return err
		}
		if err := env.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		if err := tcpExpectEOF(ctx, client); err != nil {
			return fmt.Errorf("receive after SHUT_RD: %w", err)
		}
		if err := tcpWantState(env.Tipy(), client, "TIME-WAIT"); err != nil {
			return fmt.Errorf("after peer's FIN: %w", err)
		}
		env.Logf("peer's later data was thrown away, receives still return the end of the stream; tipy is in TIME-WAIT")
		return nil
	},
}
