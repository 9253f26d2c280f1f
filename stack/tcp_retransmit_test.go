package stack_test

import "testing"

// TestTCPRetransmissionStopsAtSndMax: a retransmission repeats what was
// sent and nothing more. Data queued behind it (held back by Nagle here) is
// new data. Folding it into the retransmitted segment lets the peer acknowledge
// past SND.MAX, and the two ends then trade ACKs forever.
func TestTCPRetransmissionStopsAtSndMax(t *testing.T) {
	sc := newScripted(t, nil)
	so, _, s, p := sc.connectActive(mss1000)
	so.Send(make([]byte, 500))
	sc.expect(fPA, s, p, withData(500))
	so.Send(make([]byte, 700)) // Nagle: 500 bytes unacknowledged, 700 < MSS waits
	sc.expectNone(100e6)
	sc.expect(fPA, s, p, withData(500)) // the RTO retransmission: the 500 bytes, not 1000
	if c := sc.conn(); c.SndMax != s+500 {
		t.Fatalf("SND.MAX %d after the retransmission, want %d", c.SndMax, s+500)
	}
}
