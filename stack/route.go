package stack

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
)

// Routing (RFC 1122 §3.3.1, RFC 1812 §5.2.4.3): a destination on a connected
// prefix is delivered directly; any other goes to the gateway of the longest
// matching route, the default route (0.0.0.0/0) matching everything.

// RouteKind says where a route came from.
type RouteKind string

// Route kinds.
const (
	RouteConnected RouteKind = "connected" // the prefix of an interface
	RouteStatic    RouteKind = "static"    // added by a user
	RouteDefault   RouteKind = "default"   // the configured default gateway
)

// Route is one entry of the routing table.
type Route struct {
	Dst     netip.Prefix // destination prefix
	Gateway netip.Addr   // next hop; the zero Addr means on-link
	Iface   *Iface       // the interface to send through
	Kind    RouteKind
}

func (r Route) String() string {
	via := "on-link"
	if r.Gateway.IsValid() {
		via = "via " + r.Gateway.String()
	}
	return fmt.Sprintf("%s %s dev %s (%s)", r.Dst, via, r.Iface.name, r.Kind)
}

// nextHop is the result of a route lookup: where a datagram goes.
type nextHop struct {
	route Route
	addr  netip.Addr // the neighbour to resolve: the destination or the gateway
	src   netip.Addr // the source address to use
}

// Routes returns the routing table, longest prefixes first. Connected routes
// come from the interfaces; the default route from Config.Gateway.
func (s *Stack) Routes() []Route {
	var rs []Route
	for _, ifc := range s.ifaces {
		rs = append(rs, Route{Dst: ifc.addr.Masked(), Iface: ifc, Kind: RouteConnected})
	}
	rs = append(rs, s.routes...)
	if s.cfg.Gateway.IsValid() {
		rs = append(rs, Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: s.cfg.Gateway, Iface: s.ifaces[0], Kind: RouteDefault})
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Dst.Bits() > rs[j].Dst.Bits() })
	return rs
}

// AddRoute adds a static route. The gateway must be on-link through one of
// the stack's interfaces (which becomes the route's interface); without a
// gateway, iface names the interface ("" for the first).
func (s *Stack) AddRoute(dst netip.Prefix, gateway netip.Addr, iface string) (Route, error) {
	if !dst.IsValid() || !dst.Addr().Is4() {
		return Route{}, fmt.Errorf("route %v: destination must be an IPv4 prefix", dst)
	}
	dst = dst.Masked()
	r := Route{Dst: dst, Gateway: gateway, Kind: RouteStatic}
	for _, ifc := range s.ifaces {
		if (gateway.IsValid() && ifc.addr.Contains(gateway)) || (!gateway.IsValid() && (iface == "" || iface == ifc.name)) {
			r.Iface = ifc
			break
		}
	}
	if r.Iface == nil {
		if gateway.IsValid() {
			return Route{}, fmt.Errorf("route %v via %v: the gateway is not on any connected network", dst, gateway)
		}
		return Route{}, fmt.Errorf("route %v: no interface %q", dst, iface)
	}
	for _, o := range s.routes {
		if o.Dst == dst {
			return Route{}, fmt.Errorf("route %v: already in the table (%v)", dst, o)
		}
	}
	s.routes = append(s.routes, r)
	s.publishRoute(s.loop.Now(), "route added: "+r.String(), r)
	return r, nil
}

// DeleteRoute removes the static route for dst.
func (s *Stack) DeleteRoute(dst netip.Prefix) error {
	dst = dst.Masked()
	for i, r := range s.routes {
		if r.Dst == dst {
			s.routes = append(s.routes[:i], s.routes[i+1:]...)
			s.publishRoute(s.loop.Now(), "route deleted: "+r.String(), r)
			return nil
		}
	}
	return fmt.Errorf("route %v: no such static route", dst)
}

// lookup finds where a datagram to dst goes, by longest prefix match. It
// publishes the decision in words.
func (s *Stack) lookup(now clock.Time, dst netip.Addr) (nextHop, bool) {
	var best Route
	found := false
	for _, ifc := range s.ifaces {
		if p := ifc.addr.Masked(); p.Contains(dst) && (!found || p.Bits() > best.Dst.Bits()) {
			best, found = Route{Dst: p, Iface: ifc, Kind: RouteConnected}, true
		}
	}
	for _, r := range s.routes {
		if r.Dst.Contains(dst) && (!found || r.Dst.Bits() > best.Dst.Bits()) {
			best, found = r, true
		}
	}
	if !found && s.cfg.Gateway.IsValid() {
		best = Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: s.cfg.Gateway, Iface: s.ifaces[0], Kind: RouteDefault}
		found = true
	}
	if !found {
		if s.obs.Active() {
			s.obs.Publish(observe.Event{
				TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindRoute,
				Summary: fmt.Sprintf("no route to %s", dst),
				Explain: "the destination is on none of the connected networks and there is no default gateway",
				RFC:     "RFC 1122 §3.3.1.1", Reason: "no-route",
				Fields: map[string]any{"dst": dst.String()},
			})
		}
		return nextHop{}, false
	}
	nh := nextHop{route: best, addr: dst, src: best.Iface.addr.Addr()}
	if best.Gateway.IsValid() {
		nh.addr = best.Gateway
	}
	if s.obs.Active() {
		s.publishLookup(now, dst, best, nh)
	}
	return nh, true
}

// publishLookup publishes a routing decision. A transfer makes the same
// one for every datagram, so the words of the last one are kept
// (routeMemo) and only the event and its map are made anew.
func (s *Stack) publishLookup(now clock.Time, dst netip.Addr, best Route, nh nextHop) {
	m := &s.ev.route
	if !m.ok || m.dst != dst || m.route != best || m.iface != best.Iface.name {
		var summary, explain string
		if best.Gateway.IsValid() {
			summary = fmt.Sprintf("route %s via gateway %s on %s (%s route %s)", dst, best.Gateway, best.Iface.name, best.Kind, best.Dst)
			explain = fmt.Sprintf("%s is not on a connected network, so the datagram goes to the gateway %s, which forwards it; the longest matching prefix is %s", dst, best.Gateway, best.Dst)
		} else {
			summary = fmt.Sprintf("route %s on-link on %s (%s)", dst, best.Iface.name, best.Dst)
			explain = fmt.Sprintf("%s is on the connected network %s, so the datagram is delivered directly to it", dst, best.Dst)
		}
		*m = routeMemo{ok: true, dst: dst, route: best, iface: best.Iface.name, summary: summary, explain: explain,
			fields: [5]any{dst.String(), nh.addr.String(), best.Iface.name, best.Dst.String(), string(best.Kind)}}
	}
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindRoute,
		Summary: m.summary, Explain: m.explain, RFC: "RFC 1122 §3.3.1.1",
		Fields: map[string]any{"dst": m.fields[0], "next_hop": m.fields[1], "iface": m.fields[2], "prefix": m.fields[3], "kind": m.fields[4]},
	})
}

func (s *Stack) publishRoute(now clock.Time, summary string, r Route) {
	if !s.obs.Active() {
		return
	}
	s.obs.Publish(observe.Event{
		TimeNS: int64(now), Host: s.cfg.Name, Layer: observe.LayerIPv4, Kind: observe.KindRoute, Summary: summary,
		Fields: map[string]any{"dst": r.Dst.String(), "gateway": r.Gateway.String(), "iface": r.Iface.name, "kind": string(r.Kind)},
	})
}
