package stack

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// IGMPv2, host side (RFC 2236).
//
// For each group joined on an interface (other than all-hosts, 224.0.0.1,
// which is never reported: §6) a host is an Idle Member or a Delaying Member
// with a report timer running. Joining sends an unsolicited Membership
// Report at once and repeats it once after a random delay up to the
// Unsolicited Report Interval (§3, §8.10), in case the first was lost. A
// query (general, to 224.0.0.1, or group-specific) starts the timer of each
// group it asks about at a random delay up to its Max Resp Time, or shortens
// a running one; when the timer fires the host reports. Hearing another
// host's report for the group while the timer runs cancels ours: one report
// per group per network is enough (report suppression, §3). Leaving sends a
// Leave Group to all-routers (224.0.0.2) if this host was the last to report
// the group (§3: otherwise another member has spoken since, and the router
// will hear it again). Every IGMP message goes out with TTL 1 and the Router
// Alert option (§2), and is never looped back to the sender.
//
// A query from an IGMPv1 router (Max Resp Time 0) is answered with the 10 s
// of §4, but tipy does not switch to IGMPv1 compatibility (v1 reports, no
// leaves) as §4 describes; an IGMPv3 query is read as a v2 query (RFC 3376
// §7.1).

// IGMP timing of RFC 2236 §8.
const (
	IGMPUnsolicitedReportInterval = 10 * time.Second // §8.10
	IGMPv1QueryMaxResp            = 10 * time.Second // §4: a v1 query (Max Resp Time 0) means 10 s
)

// allRoutersGroup receives IGMPv2 Leave Group messages (RFC 2236 §3).
var allRoutersGroup = netip.AddrFrom4([4]byte{224, 0, 0, 2})

// igmpKey names one membership: a group on an interface.
type igmpKey struct {
	ifc   *Iface
	group netip.Addr
}

// igmpGroup is the host state of one membership.
type igmpGroup struct {
	timer        *clock.Timer // armed: Delaying Member; the report goes out when it fires
	lastReporter bool         // we sent the last report heard for the group
	unsolicited  bool         // the running timer is the repeat of the join report
}

// igmpLayer is the IGMP state of one stack.
type igmpLayer struct {
	s      *Stack
	groups map[igmpKey]*igmpGroup
}

// initIGMP registers IGMP as protocol 2.
func (s *Stack) initIGMP() {
	g := &igmpLayer{s: s, groups: make(map[igmpKey]*igmpGroup)}
	s.igmpl = g
	s.HandleProtocol(wire.ProtoIGMP, g.input)
}

// igmpJoined is called when group is first joined on ifc.
func (s *Stack) igmpJoined(now clock.Time, ifc *Iface, group netip.Addr) {
	if group == allHostsGroup {
		return
	}
	l := s.igmpl
	key := igmpKey{ifc, group}
	m := &igmpGroup{}
	m.timer = s.loop.NewTimer(func() { l.timerFired(key, m) })
	l.groups[key] = m
	delay := l.randomDelay(IGMPUnsolicitedReportInterval)
	l.event(now, observe.KindState, fmt.Sprintf("joined %s on %s: report now and again in %v", group, ifc.name, delay),
		"a host announces a new membership at once with an unsolicited report, and repeats it once after a random delay in case the first was lost", "RFC 2236 §3",
		map[string]any{"group": group.String(), "iface": ifc.name, "repeat_in_ms": delay.Milliseconds()})
	l.send(now, ifc, wire.IGMPv2MembershipReport, group, group)
	m.lastReporter = true
	m.unsolicited = true
	m.timer.Reset(now.Add(delay))
}

// igmpLeft is called when the last membership of group on ifc ends.
func (s *Stack) igmpLeft(now clock.Time, ifc *Iface, group netip.Addr) {
	if group == allHostsGroup {
		return
	}
	l := s.igmpl
	key := igmpKey{ifc, group}
	m := l.groups[key]
	if m == nil {
		return
	}
	m.timer.Stop()
	delete(l.groups, key)
	if !m.lastReporter {
		l.event(now, observe.KindState, fmt.Sprintf("left %s on %s without a Leave: another host reported last", group, ifc.name),
			"only the host that sent the last report for a group sends Leave Group; another member spoke since, so the router still has a member to hear from", "RFC 2236 §3",
			map[string]any{"group": group.String(), "iface": ifc.name})
		return
	}
	l.event(now, observe.KindState, fmt.Sprintf("left %s on %s: Leave Group to %s", group, ifc.name, allRoutersGroup),
		"this host sent the last report for the group, so it tells the routers it is leaving; a router then asks whether any member is left", "RFC 2236 §3",
		map[string]any{"group": group.String(), "iface": ifc.name})
	l.send(now, ifc, wire.IGMPLeaveGroup, group, allRoutersGroup)
}

// randomDelay returns a delay in (0, max], from the stack's seeded source.
func (l *igmpLayer) randomDelay(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(1 + l.s.rng.Int64N(int64(max)))
}

// timerFired sends the report a Delaying Member owes.
func (l *igmpLayer) timerFired(key igmpKey, m *igmpGroup) {
	if l.groups[key] != m {
		return
	}
	now := l.s.loop.Now()
	why := "the random delay after a query ran out and no other member reported first, so this host reports"
	if m.unsolicited {
		why = "the join report is repeated once, in case the first was lost"
	}
	l.event(now, observe.KindTimer, fmt.Sprintf("report timer of %s on %s fired", key.group, key.ifc.name), why, "RFC 2236 §3",
		map[string]any{"group": key.group.String(), "iface": key.ifc.name})
	m.unsolicited = false
	l.send(now, key.ifc, wire.IGMPv2MembershipReport, key.group, key.group)
	m.lastReporter = true
}

// input receives one IGMP message.
func (l *igmpLayer) input(now clock.Time, d *Datagram) {
	s := l.s
	msg := wire.IGMP(d.Payload)
	if err := msg.Validate(); err != nil {
		s.dropDatagram(now, observe.LayerIGMP, ReasonIGMPMalformed, d, err.Error())
		return
	}
	if err := msg.VerifyChecksum(); err != nil {
		s.dropDatagram(now, observe.LayerIGMP, ReasonIGMPMalformed, d, err.Error())
		return
	}
	h, _ := wire.ParseIGMP(msg)
	if s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIGMP, Kind: observe.KindRX,
			Summary: fmt.Sprintf("received %s from %s to %s", h.String(), d.Header.Src, d.Header.Dst), RFC: "RFC 2236 §2",
			Fields: map[string]any{"type": h.Type.String(), "group": h.Group.String(), "max_resp_ms": h.MaxResp().Milliseconds(), "src": d.Header.Src.String(), "dst": d.Header.Dst.String()},
		})
	}
	switch h.Type {
	case wire.IGMPMembershipQuery:
		l.query(now, d.Iface, h)
	case wire.IGMPv1MembershipReport, wire.IGMPv2MembershipReport:
		l.heardReport(now, d.Iface, h.Group, d.Header.Src)
	}
}

// query answers a membership query received on ifc.
func (l *igmpLayer) query(now clock.Time, ifc *Iface, h wire.IGMPHeader) {
	maxResp := h.MaxResp()
	if h.MaxRespTime == 0 {
		maxResp = IGMPv1QueryMaxResp
	}
	// Visit the memberships in a fixed order: the random delays are drawn
	// one after another from the seeded source.
	var keys []igmpKey
	for k := range l.groups {
		if k.ifc == ifc && (h.Group.IsUnspecified() || h.Group == k.group) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b igmpKey) int { return a.group.Compare(b.group) })
	kind := "general query"
	if !h.Group.IsUnspecified() {
		kind = "query for " + h.Group.String()
	}
	if len(keys) == 0 {
		l.event(now, observe.KindInfo, fmt.Sprintf("%s on %s: no membership to report", kind, ifc.name),
			"the query asks about groups this host has not joined, so it stays silent", "RFC 2236 §3", map[string]any{"iface": ifc.name})
		return
	}
	for _, k := range keys {
		m := l.groups[k]
		if m.timer.Armed() && m.timer.When().Sub(now) <= maxResp {
			l.event(now, observe.KindTimer, fmt.Sprintf("%s: report of %s already due in %v", kind, k.group, m.timer.When().Sub(now)),
				"a running report timer is kept when it ends before the query's Max Resp Time", "RFC 2236 §3",
				map[string]any{"group": k.group.String(), "iface": ifc.name})
			continue
		}
		delay := l.randomDelay(maxResp)
		m.unsolicited = false
		m.timer.Reset(now.Add(delay))
		l.event(now, observe.KindTimer, fmt.Sprintf("%s: report %s in %v", kind, k.group, delay),
			fmt.Sprintf("each member waits a random time up to the Max Resp Time (%v) before reporting, so that one report per group suffices and the others are suppressed", maxResp), "RFC 2236 §3",
			map[string]any{"group": k.group.String(), "iface": ifc.name, "delay_ms": delay.Milliseconds(), "max_resp_ms": maxResp.Milliseconds()})
	}
}

// heardReport handles another host's report for group: it cancels ours.
func (l *igmpLayer) heardReport(now clock.Time, ifc *Iface, group, from netip.Addr) {
	m := l.groups[igmpKey{ifc, group}]
	if m == nil {
		return
	}
	if m.timer.Stop() {
		m.lastReporter = false
		m.unsolicited = false
		l.event(now, observe.KindTimer, fmt.Sprintf("report of %s suppressed: %s reported it", group, from),
			"another member already told the routers about the group, so this host's pending report is cancelled (report suppression)", "RFC 2236 §3",
			map[string]any{"group": group.String(), "iface": ifc.name, "from": from.String()})
	}
}

// send sends one IGMP message about group to dst through ifc, with TTL 1
// and Router Alert (RFC 2236 §2).
func (l *igmpLayer) send(now clock.Time, ifc *Iface, typ wire.IGMPType, group, dst netip.Addr) {
	s := l.s
	p := NewPacket(Headroom, wire.IGMPHeaderLen)
	h := wire.IGMPHeader{Type: typ, Group: group}
	if err := h.Marshal(p.Payload()); err != nil {
		l.event(now, observe.KindError, "cannot build "+h.String()+": "+err.Error(), "", "", nil)
		return
	}
	o := &SendOptions{TTL: 1, Options: []wire.IPv4Option{wire.RouterAlertOption(0)}, MulticastIface: ifc}
	if s.obs.Active() {
		s.obs.Publish(observe.Event{
			TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIGMP, Kind: observe.KindTX,
			Summary: fmt.Sprintf("sent %s to %s on %s", h.String(), dst, ifc.name),
			Explain: "IGMP messages stay on the local network (TTL 1) and carry Router Alert so that routers look at them", RFC: "RFC 2236 §2",
			Fields: map[string]any{"type": typ.String(), "group": group.String(), "dst": dst.String(), "iface": ifc.name},
		})
	}
	if err := s.SendIPv4(now, dst, wire.ProtoIGMP, p, o); err != nil {
		l.event(now, observe.KindError, fmt.Sprintf("%s to %s not sent: %v", h.String(), dst, err), "", "RFC 2236 §2", nil)
	}
}

// event publishes an IGMP event.
func (l *igmpLayer) event(now clock.Time, kind observe.Kind, summary, explain, rfc string, fields map[string]any) {
	s := l.s
	if !s.obs.Active() {
		return
	}
	s.obs.Publish(observe.Event{TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIGMP, Kind: kind, Summary: summary, Explain: explain, RFC: rfc, Fields: fields})
}
