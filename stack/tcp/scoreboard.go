package tcp

import "github.com/tipy/tipy/stack/seqnum"

// DupThresh is the number of duplicate ACKs, or of SACKed segments above a
// hole, that declares the hole lost (RFC 5681 §3.2, RFC 6675 §2).
const DupThresh = 3

// Rule says which rule of RFC 6675 chose a segment to send.
type Rule uint8

// The rules of RFC 6675 §5 and NextSeg (§4).
const (
	RuleNone     Rule = iota // nothing to send
	RuleFirst                // §5 (4.3): the first segment at HighACK, on entering recovery
	RuleLost                 // NextSeg (1): the first un-SACKed hole that IsLost
	RuleNewData              // NextSeg (2): previously unsent data
	RuleUnsacked             // NextSeg (3): an un-SACKed hole not (yet) deemed lost
	RuleRescue               // NextSeg (4): the one rescue retransmission of a recovery
)

var ruleNames = [...]string{"none", "first retransmission", "lost", "new data", "unSACKed", "rescue"}

// String names the rule.
func (r Rule) String() string {
	if int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return "rule?"
}

// Segment is a range to send during SACK loss recovery.
type Segment struct {
	Seq  seqnum.Value
	Len  int
	Rule Rule
}

// End returns the sequence number after the segment.
func (s Segment) End() seqnum.Value { return s.Seq.Add(seqnum.Size(s.Len)) }

// AckResult is what one ACK changed on the scoreboard.
type AckResult struct {
	Acked        int  // bytes newly acknowledged cumulatively
	Sacked       int  // bytes newly SACKed: the ACK is a DupAck (RFC 6675 §2)
	Ignored      int  // SACK blocks outside (SND.UNA, SND.NXT] (D-SACK, stale or bogus)
	RecoveryDone bool // the ACK covered RecoveryPoint: loss recovery ended (§5 (A))
}

// Scoreboard is the SACK scoreboard of RFC 6675: what the receiver has
// selectively acknowledged between SND.UNA and SND.NXT, and the variables of
// SACK-based loss recovery.
//
// RFC 6675 names octets by their own sequence number (HighACK, HighData,
// HighRxt are "highest octet" numbers); here every bound is exclusive, the
// number of the octet after: HighACK() is SND.UNA, HighData() is SND.NXT,
// HighRxt() is one past the last octet retransmitted.
//
// Per ACK the connection calls Update, then SetPipe; while in recovery and
// cwnd - Pipe() >= SMSS it asks NextSeg what to send and reports it with
// Sent.
type Scoreboard struct {
	smss   int
	una    seqnum.Value // HighACK + 1
	nxt    seqnum.Value // HighData + 1
	sacked rangeSet

	recovery      bool
	recoveryPoint seqnum.Value // HighData + 1 at entry
	holdRecovery  bool         // after an RTO: no recovery until SND.UNA >= recoveryPoint
	highRxt       seqnum.Value
	rescueRxt     seqnum.Value
	rescueValid   bool
	pipe          int
}

// NewScoreboard returns an empty scoreboard for a sender at SND.UNA =
// SND.NXT = una with maximum segment size smss.
func NewScoreboard(una seqnum.Value, smss int) *Scoreboard {
	s := &Scoreboard{}
	s.Reset(una, smss)
	return s
}

// Reset empties the scoreboard for SND.UNA = SND.NXT = una.
func (s *Scoreboard) Reset(una seqnum.Value, smss int) {
	*s = Scoreboard{smss: max(smss, 1), una: una, nxt: una, highRxt: una, sacked: rangeSet{s: s.sacked.s[:0]}}
}

// SetSMSS sets the sender maximum segment size.
func (s *Scoreboard) SetSMSS(smss int) { s.smss = max(smss, 1) }

// SetHighData records data sent up to (not including) nxt. Data sent by
// NextSeg rule (2) is recorded by Sent.
func (s *Scoreboard) SetHighData(nxt seqnum.Value) {
	if s.nxt.LessThan(nxt) {
		s.nxt = nxt
	}
}

// Update records an ACK: the cumulative acknowledgment ack and its SACK
// blocks (RFC 6675 §4 Update()). Scoreboard state below ack is discarded;
// blocks are clipped to (SND.UNA, SND.NXT] and those left empty ignored.
func (s *Scoreboard) Update(ack seqnum.Value, blocks []SACKBlock) AckResult {
	var res AckResult
	if s.una.LessThan(ack) && ack.LessThanEq(s.nxt) {
		res.Acked = int(ack.Sub(s.una))
		s.una = ack
		s.sacked.trim(ack)
		s.highRxt = seqnum.Max(s.highRxt, ack)
		if s.recovery && s.recoveryPoint.LessThanEq(ack) {
			s.recovery = false
			res.RecoveryDone = true
		}
		if s.holdRecovery && s.recoveryPoint.LessThanEq(ack) {
			s.holdRecovery = false
		}
	}
	for _, b := range blocks {
		l, r := seqnum.Max(b.Left, s.una), seqnum.Min(b.Right, s.nxt)
		if !b.Left.LessThan(b.Right) || !l.LessThan(r) || s.nxt.LessThan(b.Left) {
			res.Ignored++
			continue
		}
		res.Sacked += s.sacked.add(l, r, 0, nil)
	}
	return res
}

// lostBoundary returns L such that the un-SACKed octets in [SND.UNA, L) are
// lost and those above are not. IsLost is monotone: the SACKed data above
// an octet only shrinks as the octet moves up. L is the left edge of the
// highest block at which DupThresh blocks, or more than (DupThresh-1)*SMSS
// SACKed bytes, lie at or above it.
func (s *Scoreboard) lostBoundary() seqnum.Value {
	bytes, count := 0, 0
	for i := len(s.sacked.s) - 1; i >= 0; i-- {
		b := s.sacked.s[i]
		bytes += int(b.right.Sub(b.left))
		count++
		if count >= DupThresh || bytes > (DupThresh-1)*s.smss {
			return b.left
		}
	}
	return s.una
}

// IsLost reports whether the octet seq is deemed lost (RFC 6675 §4
// IsLost()): it is outstanding, not SACKed, and either DupThresh
// discontiguous SACKed blocks or more than (DupThresh-1)*SMSS SACKed bytes
// lie above it.
func (s *Scoreboard) IsLost(seq seqnum.Value) bool {
	return seq.InRange(s.una, s.nxt) && seq.LessThan(s.lostBoundary()) && !s.sacked.contains(seq)
}

// IsSacked reports whether the octet seq has been SACKed.
func (s *Scoreboard) IsSacked(seq seqnum.Value) bool { return s.sacked.contains(seq) }

// SetPipe recomputes pipe, the octets estimated in the network (RFC 6675
// §4 SetPipe()): each un-SACKed outstanding octet counts once if it is not
// lost, and once more if it was retransmitted (below HighRxt). It returns
// the new value.
func (s *Scoreboard) SetPipe() int {
	lost := s.lostBoundary()
	rxt := seqnum.Max(s.una, seqnum.Min(s.highRxt, s.nxt))
	pipe := 0
	count := func(a, b seqnum.Value) { // an un-SACKed hole [a, b)
		if l := seqnum.Max(a, lost); l.LessThan(b) {
			pipe += int(b.Sub(l))
		}
		if r := seqnum.Min(b, rxt); a.LessThan(r) {
			pipe += int(r.Sub(a))
		}
	}
	cur := s.una
	for _, b := range s.sacked.s {
		if cur.LessThan(b.left) {
			count(cur, b.left)
		}
		cur = b.right
	}
	if cur.LessThan(s.nxt) {
		count(cur, s.nxt)
	}
	s.pipe = pipe
	return pipe
}

// Pipe returns the pipe estimate from the last SetPipe, plus what Sent
// added since.
func (s *Scoreboard) Pipe() int { return s.pipe }

// CanEnterRecovery reports whether a new loss recovery may start: not
// during one, nor after an RTO until SND.UNA reaches the recovery point it
// set (RFC 6675 §5.1).
func (s *Scoreboard) CanEnterRecovery() bool { return !s.recovery && !s.holdRecovery }

// EnterRecovery starts loss recovery (RFC 6675 §5 (4.1)): RecoveryPoint =
// HighData. It returns the first segment to retransmit, at SND.UNA ((4.3));
// the connection sends it and reports it with Sent, which sets HighRxt and
// RescueRxt past it.
func (s *Scoreboard) EnterRecovery() Segment {
	s.recovery = true
	s.recoveryPoint = s.nxt
	s.highRxt = s.una
	s.rescueValid = false
	return Segment{Seq: s.una, Len: s.holeLen(s.una), Rule: RuleFirst}
}

// holeLen returns the length of the segment of at most SMSS starting at the
// un-SACKed octet seq: it ends at the next SACKed block or at HighData.
func (s *Scoreboard) holeLen(seq seqnum.Value) int {
	end := s.nxt
	i := s.sacked.search(seq)
	if i < len(s.sacked.s) && s.sacked.s[i].left.LessThanEq(seq) {
		i++ // the block that ends at seq
	}
	if i < len(s.sacked.s) && s.sacked.s[i].left.LessThan(end) {
		end = s.sacked.s[i].left
	}
	return min(s.smss, int(end.Sub(seq)))
}

// firstHoleFrom returns the first un-SACKed octet at or after seq and below
// the highest SACKed octet (NextSeg (1.a) and (1.b)).
func (s *Scoreboard) firstHoleFrom(seq seqnum.Value) (seqnum.Value, bool) {
	n := len(s.sacked.s)
	if n == 0 {
		return 0, false
	}
	top := s.sacked.s[n-1].left // holes end at or below the last block
	i := s.sacked.search(seq)
	if i < n && s.sacked.s[i].left.LessThanEq(seq) {
		seq = s.sacked.s[i].right // inside a block: skip it
	}
	return seq, seq.LessThan(top)
}

// NextSeg returns the next segment to send during loss recovery (RFC 6675
// §4 NextSeg()), in the order of its rules: (1) the first lost hole above
// HighRxt; (2) up to SMSS of new data, if newData > 0 bytes are ready and
// allowed by the peer's window; (3) the first un-SACKed hole above HighRxt;
// (4) once per recovery, a rescue retransmission of the highest un-SACKed
// outstanding data. It changes nothing: the connection reports what it sent
// with Sent. ok is false when there is nothing to send.
func (s *Scoreboard) NextSeg(newData int) (seg Segment, ok bool) {
	hole, found := s.firstHoleFrom(seqnum.Max(s.highRxt, s.una))
	if found && hole.LessThan(s.lostBoundary()) {
		return Segment{Seq: hole, Len: s.holeLen(hole), Rule: RuleLost}, true
	}
	if newData > 0 {
		return Segment{Seq: s.nxt, Len: min(newData, s.smss), Rule: RuleNewData}, true
	}
	if found {
		return Segment{Seq: hole, Len: s.holeLen(hole), Rule: RuleUnsacked}, true
	}
	if s.recovery && (!s.rescueValid || s.rescueRxt.LessThan(s.una)) {
		// The highest outstanding un-SACKed octet: below HighData, or
		// below the lowest block of the run of blocks that reaches it.
		top := s.nxt
		for i := len(s.sacked.s) - 1; i >= 0 && s.sacked.s[i].right == top; i-- {
			top = s.sacked.s[i].left
		}
		if s.una.LessThan(top) {
			floor := s.una
			if i := s.sacked.search(top); i > 0 {
				floor = seqnum.Max(floor, s.sacked.s[i-1].right)
			}
			start := seqnum.Max(floor, top-seqnum.Value(s.smss))
			return Segment{Seq: start, Len: int(top.Sub(start)), Rule: RuleRescue}, true
		}
	}
	return Segment{}, false
}

// Sent records a segment sent during recovery (RFC 6675 §5 (C.2) to (C.4)):
// HighRxt moves past a retransmission (not a rescue one, which sets
// RescueRxt = RecoveryPoint instead), HighData past new data, and pipe
// grows by the segment's length.
func (s *Scoreboard) Sent(seg Segment) {
	if seg.Len <= 0 {
		return
	}
	end := seg.End()
	switch seg.Rule {
	case RuleFirst:
		s.highRxt = seqnum.Max(s.highRxt, end)
		s.rescueRxt, s.rescueValid = end, true
	case RuleLost, RuleUnsacked:
		s.highRxt = seqnum.Max(s.highRxt, end)
	case RuleRescue:
		s.rescueRxt, s.rescueValid = s.recoveryPoint, true
	case RuleNewData:
		s.SetHighData(end)
	}
	s.pipe += seg.Len
}

// OnRTO applies RFC 6675 §5.1 when the retransmission timer expires:
// RecoveryPoint = HighData, loss recovery ends, and none starts again until
// SND.UNA reaches RecoveryPoint. The SACK information is discarded, since
// the receiver may have reneged (RFC 2018 §8); later ACKs bring back what it
// still holds.
func (s *Scoreboard) OnRTO() {
	s.recovery = false
	s.recoveryPoint = s.nxt
	s.holdRecovery = true
	s.rescueValid = false
	s.highRxt = s.una
	s.sacked.clear()
	s.pipe = 0
}

// InRecovery reports whether SACK loss recovery is under way.
func (s *Scoreboard) InRecovery() bool { return s.recovery }

// RecoveryPoint returns HighData + 1 at the start of the last recovery (or
// at the last RTO).
func (s *Scoreboard) RecoveryPoint() seqnum.Value { return s.recoveryPoint }

// HighACK returns SND.UNA.
func (s *Scoreboard) HighACK() seqnum.Value { return s.una }

// HighData returns SND.NXT, one past the highest octet sent.
func (s *Scoreboard) HighData() seqnum.Value { return s.nxt }

// HighRxt returns one past the highest octet retransmitted in this recovery.
func (s *Scoreboard) HighRxt() seqnum.Value { return s.highRxt }

// RescueRxt returns RescueRxt (exclusive) and whether it is defined.
func (s *Scoreboard) RescueRxt() (seqnum.Value, bool) { return s.rescueRxt, s.rescueValid }

// SackedBytes returns the number of bytes SACKed above SND.UNA.
func (s *Scoreboard) SackedBytes() int { return s.sacked.bytes }

// Blocks appends the SACKed blocks, lowest first, to dst and returns it.
func (s *Scoreboard) Blocks(dst []SACKBlock) []SACKBlock {
	for _, b := range s.sacked.s {
		dst = append(dst, SACKBlock{Left: b.left, Right: b.right})
	}
	return dst
}
