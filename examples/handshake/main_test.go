package main

import (
	"strings"
	"testing"

	"github.com/tipy/tipy/examples/internal/demotest"
)

// TestHandshakeInVirtualNetwork checks the trace line by line: what
// happened exactly, and that each line has a reason with its RFC section
// (the wording of the reasons is the stack's, not this example's).
func TestHandshakeInVirtualNetwork(t *testing.T) {
	out := demotest.Run(t, run)
	want := []string{
		"peer  state    CLOSED → LISTEN on 0.0.0.0:80",
		"tipy  state    CLOSED → SYN-SENT",
		"tipy  sends    [S]   10.0.0.1:35403 > 10.0.0.2:80 seq 0 win 65535 <mss 1460,sackOK,TS,nop,wscale 3>",
		"peer  receives [S]   10.0.0.1:35403 > 10.0.0.2:80 seq 0 win 65535 <mss 1460,sackOK,TS,nop,wscale 3>",
		"peer  state    LISTEN → SYN-RECEIVED",
		"peer  sends    [S.]  10.0.0.2:80 > 10.0.0.1:35403 seq 0 ack 1 win 65535 <mss 1460,sackOK,TS,nop,wscale 3>",
		"tipy  receives [S.]  10.0.0.2:80 > 10.0.0.1:35403 seq 0 ack 1 win 65535 <mss 1460,sackOK,TS,nop,wscale 3>",
		"tipy  state    SYN-SENT → ESTABLISHED",
		"tipy  sends    [.]   10.0.0.1:35403 > 10.0.0.2:80 seq 1 ack 1 win 32768 <nop,nop,TS>",
		"peer  receives [.]   10.0.0.1:35403 > 10.0.0.2:80 seq 1 ack 1 win 32768 <nop,nop,TS>",
		"peer  state    SYN-RECEIVED → ESTABLISHED",
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2*len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 2*len(want), out)
	}
	for i, w := range want {
		what, why := lines[2*i], lines[2*i+1]
		if what != w {
			t.Errorf("line %d: %q, want %q", 2*i+1, what, w)
		}
		if !strings.HasPrefix(why, "      why: ") || len(why) < len("      why: x (RFC 9293)") || !strings.Contains(why, "RFC ") {
			t.Errorf("line %d: %q, want the reason and its RFC section", 2*i+2, why)
		}
	}
}
