package stack

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/seqnum"
	"github.com/tipy/tipy/stack/wire"
)

// SYN cookies (RFC 4987 §3.6). When a listener's SYN queue is full, the
// SYN-ACK is sent without keeping any state: its ISS is a cookie that
// encodes a coarse time, the MSS and a keyed hash of the 4-tuple and the
// client's ISN. The client's ACK brings the cookie back (SEG.ACK - 1); if the
// hash verifies and the time is recent, the connection is created
// ESTABLISHED. A cookie has room for the MSS only: window scaling,
// timestamps and SACK are not offered in a cookie SYN-ACK, so both ends
// agree they are off.
//
//	 31     27 26  24 23                                      0
//	+---------+------+-----------------------------------------+
//	| t mod 32| mss  |   H(secret, 4-tuple, client ISN, t)     |
//	+---------+------+-----------------------------------------+

// cookiePeriod is the tick of the cookie clock; a cookie is valid for the
// tick it was made in and the next one (64 to 128 s).
const cookiePeriod = 64 * time.Second

// cookieMSS are the MSS values a cookie can encode (3 bits).
var cookieMSS = [8]int{536, 1200, 1300, 1360, 1400, 1440, 1452, 1460}

// cookieTick returns the cookie clock at now.
func cookieTick(now clock.Time) uint32 { return uint32(int64(now) / int64(cookiePeriod)) }

// cookieHash is the keyed hash of a cookie.
func (l *tcpLayer) cookieHash(t tcpTuple, clientISN seqnum.Value, tick uint32) uint32 {
	var b [16 + 12 + 8]byte
	copy(b[:16], l.secret[:])
	la, ra := t.local.Addr().As4(), t.remote.Addr().As4()
	copy(b[16:], la[:])
	binary.BigEndian.PutUint16(b[20:], t.local.Port())
	copy(b[22:], ra[:])
	binary.BigEndian.PutUint16(b[26:], t.remote.Port())
	binary.BigEndian.PutUint32(b[28:], uint32(clientISN))
	binary.BigEndian.PutUint32(b[32:], tick)
	sum := sha256.Sum256(b[:])
	return binary.BigEndian.Uint32(sum[:4]) & 0xffffff
}

// makeCookie returns the ISS of a cookie SYN-ACK and the MSS it encodes.
func (l *tcpLayer) makeCookie(now clock.Time, t tcpTuple, clientISN seqnum.Value, peerMSS int) (seqnum.Value, int) {
	idx := 0
	for i, m := range cookieMSS {
		if m <= peerMSS {
			idx = i
		}
	}
	tick := cookieTick(now)
	c := tick%32<<27 | uint32(idx)<<24 | l.cookieHash(t, clientISN, tick)
	return seqnum.Value(c), cookieMSS[idx]
}

// checkCookie verifies the cookie an ACK returns and gives the MSS.
func (l *tcpLayer) checkCookie(now clock.Time, t tcpTuple, seg *tcpSegment) (int, bool) {
	cookie := uint32(seg.ack - 1)
	clientISN := seg.seq - 1
	tick := cookieTick(now)
	for _, tk := range []uint32{tick, tick - 1} {
		if cookie>>27 != tk%32 {
			continue
		}
		if cookie&0xffffff == l.cookieHash(t, clientISN, tk) {
			return cookieMSS[cookie>>24&7], true
		}
	}
	return 0, false
}

// sendCookie answers a SYN with a stateless SYN-ACK.
func (ls *tcpListener) sendCookie(now clock.Time, seg *tcpSegment) {
	l := ls.l
	t := tcpTuple{seg.dst, seg.src}
	peerMSS := 536
	if seg.hdr.Options.HasMSS {
		peerMSS = int(seg.hdr.Options.MSS)
	}
	iss, mss := l.makeCookie(now, t, seg.seq, peerMSS)
	ls.cookiesSent++
	l.stats.SYNCookiesSent++
	if l.s.obs.Active() {
		l.s.obs.Publish(observe.Event{TimeNS: int64(now), Host: l.s.cfg.Name, Layer: observe.LayerTCP, Kind: observe.KindInfo,
			Conn:    t.local.String() + "-" + t.remote.String(),
			Summary: fmt.Sprintf("SYN queue full (%d): answering with a SYN cookie, ISS %d, MSS %d", len(ls.synQ), iss, mss),
			Explain: "the listener keeps no state for this SYN: the ISS of its SYN-ACK encodes the time, the MSS and a keyed hash, and the client's ACK brings it back",
			RFC:     "RFC 4987 §3.6", Fields: map[string]any{"iss": uint32(iss), "mss": mss}})
	}
	h := wire.TCPHeader{SrcPort: t.local.Port(), DstPort: t.remote.Port(), Seq: uint32(iss), Ack: uint32(seg.seq + 1),
		Flags: wire.TCPFlagSYN | wire.TCPFlagACK, Window: uint16(min(ls.so.opts.rcvBuf, 0xffff)),
		Options: wire.TCPOptions{MSS: uint16(l.mssFor(now, t.remote.Addr(), &ls.so.opts)), HasMSS: true}}
	l.transmit(now, nil, t.local.Addr(), t.remote.Addr(), &h, "SYN-ACK with a SYN cookie", nil)
}

// cookieACK handles an ACK to a listener: if it returns a valid cookie, the
// connection is created ESTABLISHED and the ACK processed. It reports
// whether it did.
func (ls *tcpListener) cookieACK(now clock.Time, seg *tcpSegment) bool {
	l := ls.l
	if ls.cookiesSent == 0 || seg.has(wire.TCPFlagSYN|wire.TCPFlagRST) || len(ls.acceptQ) >= ls.backlog {
		return false
	}
	t := tcpTuple{seg.dst, seg.src}
	mss, ok := l.checkCookie(now, t, seg)
	if !ok {
		return false
	}
	l.stats.SYNCookiesValid++
	c := l.newConn(now, seg.dst, seg.src, &ls.so.opts)
	c.passive, c.parent = true, ls
	c.state = TCPListen
	c.iss = seg.ack - 1
	c.sndUna, c.sndNxt, c.sndMax, c.bufSeq = seg.ack, seg.ack, seg.ack, seg.ack
	c.irs, c.rcvNxt = seg.seq-1, seg.seq
	c.sndMSS = min(mss, c.rcvMSS)
	c.sndWndScale, c.rcvWndScale = 0, 0
	c.cc.SetMSS(c.effMSS())
	c.sb.Reset(c.sndUna, c.effMSS())
	c.sndWnd, c.sndWl1, c.sndWl2 = uint32(seg.wnd), seg.seq, seg.ack
	c.maxWnd = c.sndWnd
	c.rcvAdv = c.rcvNxt.Add(seqnum.Size(min(c.rcvBuf.Cap(), 0xffff)))
	l.holdPort(seg.dst.Port())
	l.addConn(c)
	l.stats.PassiveOpens++
	c.segsIn++
	c.setState(now, TCPEstablished, "ACK returned a valid SYN cookie", "RFC 4987 §3.6")
	c.textAndFIN(now, seg)
	c.output(now)
	return true
}
