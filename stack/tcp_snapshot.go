package stack

import (
	"sort"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/tcp"
)

// TCPSnapshot is the state of one TCP connection for the REST API and the
// dashboard, with the RFC's variable names.
type TCPSnapshot struct {
	Conn        string `json:"conn"` // "A:p-B:q"
	Local       string `json:"local"`
	Remote      string `json:"remote"`
	State       string `json:"state"`
	StateSince  int64  `json:"state_since_ns"`
	SocketID    int    `json:"socket_id,omitempty"`
	ISS         uint32 `json:"iss"`
	SndUna      uint32 `json:"snd_una"`
	SndNxt      uint32 `json:"snd_nxt"`
	SndMax      uint32 `json:"snd_max"`
	SndWnd      uint32 `json:"snd_wnd"`
	SndWl1      uint32 `json:"snd_wl1"`
	SndWl2      uint32 `json:"snd_wl2"`
	IRS         uint32 `json:"irs"`
	RcvNxt      uint32 `json:"rcv_nxt"`
	RcvWnd      uint32 `json:"rcv_wnd"`
	SndMSS      int    `json:"snd_mss"`
	RcvMSS      int    `json:"rcv_mss"`
	SndWndScale uint8  `json:"snd_wscale"`
	RcvWndScale uint8  `json:"rcv_wscale"`
	WindowScale bool   `json:"window_scaling"`
	Timestamps  bool   `json:"timestamps"`
	SACK        bool   `json:"sack"`
	TSRecent    uint32 `json:"ts_recent"`

	Congestion string  `json:"congestion"`
	Cwnd       int     `json:"cwnd"`
	Ssthresh   int     `json:"ssthresh"` // -1: infinite
	Flight     int     `json:"flight"`
	InRecovery bool    `json:"in_recovery"`
	SRTTMS     float64 `json:"srtt_ms"`
	RTTVarMS   float64 `json:"rttvar_ms"`
	RTOMS      float64 `json:"rto_ms"`

	SendBuffered int `json:"send_buffered"`
	SendCapacity int `json:"send_capacity"`
	RecvBuffered int `json:"recv_buffered"`
	RecvCapacity int `json:"recv_capacity"`
	OutOfOrder   int `json:"out_of_order_bytes"`

	SegmentsIn      uint64 `json:"segments_in"`
	SegmentsOut     uint64 `json:"segments_out"`
	Retransmissions uint64 `json:"retransmissions"`
	FastRetransmits uint64 `json:"fast_retransmits"`
	Timeouts        uint64 `json:"timeouts"`
	DupAcksIn       uint64 `json:"dup_acks_in"`
	OutOfOrderSegs  uint64 `json:"out_of_order_segments"`
	ChallengeACKs   uint64 `json:"challenge_acks"`
	Probes          uint64 `json:"zero_window_probes"`
	BytesAcked      uint64 `json:"bytes_acked"`
	BytesReceived   uint64 `json:"bytes_received"`

	Timers map[string]int64 `json:"timers,omitempty"` // armed timers: name -> time they fire, ns
}

// TCPConnections returns a snapshot of every TCP connection of the stack,
// in the order they were created. Listening sockets are in TCPListeners.
// Loop work only.
func (s *Stack) TCPConnections() []TCPSnapshot {
	l := s.tcpl()
	now := s.loop.Now()
	out := make([]TCPSnapshot, 0, len(l.order))
	for _, c := range l.order {
		out = append(out, c.snapshot(now))
	}
	return out
}

// TCPListener is a listening socket as the API shows it.
type TCPListener struct {
	Local       string `json:"local"`
	State       string `json:"state"` // "LISTEN"
	SocketID    int    `json:"socket_id"`
	Backlog     int    `json:"backlog"`
	SYNQueue    int    `json:"syn_queue"`    // half-open connections (SYN-RECEIVED)
	AcceptQueue int    `json:"accept_queue"` // established, not yet accepted
	SYNDrops    uint64 `json:"syn_drops"`
	SYNCookies  uint64 `json:"syn_cookies_sent"`
}

// TCPListeners returns the listening sockets of the stack ordered by
// address. Loop work only.
func (s *Stack) TCPListeners() []TCPListener {
	l := s.tcpl()
	out := make([]TCPListener, 0, len(l.listeners))
	for _, ls := range l.listeners {
		out = append(out, TCPListener{Local: ls.addr.String(), State: "LISTEN", SocketID: ls.so.id, Backlog: ls.backlog,
			SYNQueue: len(ls.synQ), AcceptQueue: len(ls.acceptQ), SYNDrops: ls.synDrop, SYNCookies: ls.cookiesSent})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Local < out[j].Local })
	return out
}

// snapshot builds the connection's TCPSnapshot.
func (c *tcpConn) snapshot(now clock.Time) TCPSnapshot {
	ss := c.cc.Ssthresh()
	if ss >= tcp.InfiniteSsthresh {
		ss = -1
	}
	t := TCPSnapshot{
		Conn: c.id, Local: c.local.String(), Remote: c.remote.String(), State: c.state.String(),
		StateSince: int64(c.stateSince),
		ISS:        uint32(c.iss), SndUna: uint32(c.sndUna), SndNxt: uint32(c.sndNxt), SndMax: uint32(c.sndMax),
		SndWnd: c.sndWnd, SndWl1: uint32(c.sndWl1), SndWl2: uint32(c.sndWl2),
		IRS: uint32(c.irs), RcvNxt: uint32(c.rcvNxt), RcvWnd: uint32(c.rcvWnd()),
		SndMSS: c.sndMSS, RcvMSS: c.rcvMSS, SndWndScale: c.sndWndScale, RcvWndScale: c.rcvWndScale,
		WindowScale: c.wsOK, Timestamps: c.tsOK, SACK: c.sackOK, TSRecent: c.tsRecent,
		Congestion: c.cc.Name(), Cwnd: c.cc.Cwnd(), Ssthresh: ss, Flight: c.flight(), InRecovery: c.inRecovery,
		SRTTMS: float64(c.rtt.SRTT()) / 1e6, RTTVarMS: float64(c.rtt.RTTVar()) / 1e6, RTOMS: float64(c.rtt.RTO()) / 1e6,
		SendBuffered: c.sndBuf.Len(), SendCapacity: c.sndBuf.Cap(), RecvBuffered: c.rcvBuf.Len(), RecvCapacity: c.rcvBuf.Cap(),
		OutOfOrder: c.ooo.Bytes(),
		SegmentsIn: c.segsIn, SegmentsOut: c.segsOut, Retransmissions: c.retrans, FastRetransmits: c.fastRetrans,
		Timeouts: c.rtoCount, DupAcksIn: c.dupAcksIn, OutOfOrderSegs: c.oooSegs, ChallengeACKs: c.challenges,
		Probes: c.probes, BytesAcked: c.bytesAcked, BytesReceived: c.bytesRcvd,
	}
	if c.so != nil {
		t.SocketID = c.so.id
	}
	for _, tt := range c.timers() {
		if tt.armed() {
			if t.Timers == nil {
				t.Timers = map[string]int64{}
			}
			t.Timers[tt.name] = int64(tt.when())
		}
	}
	return t
}
