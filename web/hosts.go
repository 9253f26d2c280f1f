package web

import (
	"context"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/wire"
)

// HostJSON is one host of GET /hosts: the trace header's description and
// the state of its interfaces.
type HostJSON struct {
	observe.HostInfo
	Live       bool        `json:"live"`                 // a stack the API can drive (false in replay)
	Interfaces []IfaceJSON `json:"interfaces,omitempty"` // every interface, the first one first
}

// IfaceJSON is one interface of a host.
type IfaceJSON struct {
	Name         string   `json:"name"`
	MAC          string   `json:"mac"`
	Address      string   `json:"address"`       // with prefix
	AddressState string   `json:"address_state"` // RFC 5227: tentative, preferred, conflict
	MTU          int      `json:"mtu"`
	Link         string   `json:"link"`
	Groups       []string `json:"groups,omitempty"` // multicast groups joined
}

// hostJSON describes a live host; it runs on the host's loop.
func hostJSON(h *stack.Stack) HostJSON {
	c := h.Config()
	out := HostJSON{HostInfo: observe.HostInfo{Name: c.Name, MAC: c.MAC.String(), MTU: h.MTU(), Link: h.Link().Name()}, Live: true}
	if c.Gateway.IsValid() {
		out.Gateway = c.Gateway.String()
	}
	for _, ifc := range h.Ifaces() {
		out.Addresses = append(out.Addresses, ifc.Addr().String())
		j := IfaceJSON{Name: ifc.Name(), MAC: ifc.MAC().String(), Address: ifc.Addr().String(),
			AddressState: string(ifc.AddressState()), MTU: ifc.MTU(), Link: ifc.Link().Name()}
		for _, g := range ifc.Groups() {
			j.Groups = append(j.Groups, g.String())
		}
		out.Interfaces = append(out.Interfaces, j)
	}
	return out
}

// HostInfo returns the trace-header description of every host of the
// server, live ones first.
func (s *Server) HostInfo() []observe.HostInfo {
	var out []observe.HostInfo
	for _, h := range s.cfg.Hosts {
		var j HostJSON
		h.Call(func() { j = hostJSON(h) })
		out = append(out, j.HostInfo)
	}
	return append(out, s.cfg.HostInfo...)
}

func (s *Server) listHosts(w http.ResponseWriter, _ *http.Request) error {
	hosts := []HostJSON{}
	for _, h := range s.cfg.Hosts {
		var j HostJSON
		h.Call(func() { j = hostJSON(h) })
		hosts = append(hosts, j)
	}
	for _, hi := range s.cfg.HostInfo {
		hosts = append(hosts, HostJSON{HostInfo: hi})
	}
	writeJSON(w, http.StatusOK, map[string]any{"mode": s.cfg.Mode, "seed": s.cfg.Seed, "hosts": hosts})
	return nil
}

func (s *Server) getHost(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	var j HostJSON
	h.Call(func() { j = hostJSON(h) })
	writeJSON(w, http.StatusOK, j)
	return nil
}

// ARPJSON is one ARP cache entry.
type ARPJSON struct {
	Interface string  `json:"interface"`
	Address   string  `json:"address"`
	MAC       string  `json:"mac,omitempty"` // empty while incomplete or failed
	State     string  `json:"state"`
	AgeMS     float64 `json:"age_ms"`
	Queued    int     `json:"queued"`
	Retries   int     `json:"retries"`
	Static    bool    `json:"static"`
}

func arpJSON(e stack.ARPEntry) ARPJSON {
	j := ARPJSON{Interface: e.Iface, Address: e.IP.String(), State: string(e.State),
		AgeMS: float64(e.Age) / 1e6, Queued: e.Queued, Retries: e.Retries, Static: e.Static}
	if e.MAC != (wire.MAC{}) {
		j.MAC = e.MAC.String()
	}
	return j
}

func (s *Server) listARP(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	out := []ARPJSON{}
	h.Call(func() {
		for _, e := range h.ARPTable() {
			out = append(out, arpJSON(e))
		}
	})
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
	return nil
}

type arpRequest struct {
	Address string `json:"address"`
	MAC     string `json:"mac"`
}

func (s *Server) addARP(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	var req arpRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	ip, err := parseAddr("address", req.Address)
	if err != nil {
		return err
	}
	mac, err := wire.ParseMAC(req.MAC)
	if err != nil {
		return badRequest("mac %q: %v", req.MAC, err)
	}
	var entry *ARPJSON
	h.Call(func() {
		if err = h.AddStaticARP(ip, mac); err != nil {
			return
		}
		for _, e := range h.ARPTable() {
			if e.IP == ip {
				j := arpJSON(e)
				entry = &j
			}
		}
	})
	if err != nil {
		return badRequest("%v", err)
	}
	writeJSON(w, http.StatusCreated, entry)
	return nil
}

func (s *Server) deleteARP(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	ip, err := parseAddr("address", chi.URLParam(r, "address"))
	if err != nil {
		return err
	}
	found := false
	h.Call(func() {
		for _, e := range h.ARPTable() {
			found = found || e.IP == ip
		}
		if found {
			err = h.DeleteARP(ip)
		}
	})
	if !found {
		return notFound("host %s has no ARP entry for %s", h.Name(), ip)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) announceARP(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	if err := h.AnnounceARP(); err != nil {
		return conflict("%v", err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "announced"})
	return nil
}

// RouteJSON is one route of a host's table.
type RouteJSON struct {
	Destination string `json:"destination"`       // prefix, "0.0.0.0/0" for the default route
	Gateway     string `json:"gateway,omitempty"` // empty: on-link
	Interface   string `json:"interface"`
	Kind        string `json:"kind"` // connected, static, default
}

func routeJSON(rt stack.Route) RouteJSON {
	j := RouteJSON{Destination: rt.Dst.String(), Kind: string(rt.Kind)}
	if rt.Gateway.IsValid() {
		j.Gateway = rt.Gateway.String()
	}
	if rt.Iface != nil {
		j.Interface = rt.Iface.Name()
	}
	return j
}

func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	out := []RouteJSON{}
	h.Call(func() {
		for _, rt := range h.Routes() {
			out = append(out, routeJSON(rt))
		}
	})
	writeJSON(w, http.StatusOK, map[string]any{"routes": out})
	return nil
}

type routeRequest struct {
	Destination string `json:"destination"`
	Gateway     string `json:"gateway"`
	Interface   string `json:"interface"`
}

func (s *Server) addRoute(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	var req routeRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	dst, err := parsePrefix("destination", req.Destination)
	if err != nil {
		return err
	}
	var gw netip.Addr
	if req.Gateway != "" {
		if gw, err = parseAddr("gateway", req.Gateway); err != nil {
			return err
		}
	}
	var rt stack.Route
	h.Call(func() { rt, err = h.AddRoute(dst, gw, req.Interface) })
	if err != nil {
		return badRequest("%v", err)
	}
	writeJSON(w, http.StatusCreated, routeJSON(rt))
	return nil
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	q := r.URL.Query().Get("destination")
	if q == "" {
		return badRequest("the query parameter destination=A/N names the route to delete")
	}
	dst, err := parsePrefix("destination", q)
	if err != nil {
		return err
	}
	found := false
	h.Call(func() {
		for _, rt := range h.Routes() {
			if rt.Kind == stack.RouteStatic && rt.Dst == dst.Masked() {
				found = true
			}
		}
		if found {
			err = h.DeleteRoute(dst)
		}
	})
	if !found {
		return notFound("host %s has no static route to %s", h.Name(), dst.Masked())
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type pingRequest struct {
	Address    string `json:"address"`
	Count      int    `json:"count"`
	Size       int    `json:"size"`
	TTL        int    `json:"ttl"`
	IntervalMS *int64 `json:"interval_ms"`
	TimeoutMS  *int64 `json:"timeout_ms"`
}

// PingJSON is the answer of POST /ping: the stack's result, and when the
// request's time ran out before the ping ended, why.
type PingJSON struct {
	stack.PingResult
	Interrupted string `json:"interrupted,omitempty"`
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	var req pingRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	dst, err := parseAddr("address", req.Address)
	if err != nil {
		return err
	}
	if req.TTL < 0 || req.TTL > 255 {
		return badRequest("ttl %d is out of range [0, 255]", req.TTL)
	}
	o := stack.PingOptions{Count: req.Count, Size: req.Size, TTL: uint8(req.TTL)}
	if req.IntervalMS != nil {
		if *req.IntervalMS <= 0 {
			return badRequest("interval_ms must be positive")
		}
		o.Interval = time.Duration(*req.IntervalMS) * time.Millisecond
	}
	if req.TimeoutMS != nil {
		if *req.TimeoutMS <= 0 {
			return badRequest("timeout_ms must be positive")
		}
		o.Timeout = time.Duration(*req.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.MaxWait)
	defer cancel()
	res, err := h.Ping(ctx, dst, o)
	out := PingJSON{PingResult: res}
	if err != nil {
		if ctx.Err() == nil || res.Sent == 0 {
			return err
		}
		out.Interrupted = "the ping took longer than the server's limit of " + s.cfg.MaxWait.String()
	}
	if out.Replies == nil {
		out.Replies = []stack.PingReply{}
	}
	if out.Errors == nil {
		out.Errors = []stack.PingError{}
	}
	if out.Lost == nil {
		out.Lost = []int{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listTCP(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	var conns []stack.TCPSnapshot
	var st stack.TCPStats
	h.Call(func() {
		conns = h.TCPConnections()
		st = h.TCPStats()
	})
	if conns == nil {
		conns = []stack.TCPSnapshot{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": conns, "stats": st})
	return nil
}

// LayerStats are the counters of one layer of a host.
type LayerStats struct {
	Counters map[string]uint64 `json:"counters,omitempty"`
	Drops    map[string]uint64 `json:"drops"` // by reason name
}

// DropJSON is one drop reason with its count and meaning.
type DropJSON struct {
	Layer   string `json:"layer"`
	Reason  string `json:"reason"`
	Count   uint64 `json:"count"`
	Explain string `json:"explain"`
}

// dropLayer is the layer of a drop reason, from its name's prefix.
func dropLayer(reason string) observe.Layer {
	prefix, _, _ := strings.Cut(reason, "-")
	switch prefix {
	case "eth", "link":
		return observe.LayerLink
	case "ip":
		return observe.LayerIPv4
	case "arp":
		return observe.LayerARP
	case "icmp":
		return observe.LayerICMP
	case "udp", "sock":
		return observe.LayerUDP
	case "igmp":
		return observe.LayerIGMP
	}
	return observe.LayerTCP
}

// reasonExplain maps each drop reason's name to its explanation.
var reasonExplain = func() map[string]string {
	m := map[string]string{}
	for r := stack.Reason(1); r < 1000 && r.String() != "unknown"; r++ {
		m[r.String()] = r.Explain()
	}
	return m
}()

func (s *Server) stats(w http.ResponseWriter, r *http.Request) error {
	h, err := s.host(r)
	if err != nil {
		return err
	}
	var st stack.Stats
	var tcp stack.TCPStats
	var re stack.ReassemblyStats
	h.Call(func() {
		st, tcp, re = h.Stats(), h.TCPStats(), h.ReassemblyStats()
	})
	layers := map[observe.Layer]*LayerStats{}
	for _, l := range observe.Layers {
		if l != observe.LayerLab && l != observe.LayerSocket {
			layers[l] = &LayerStats{Drops: map[string]uint64{}}
		}
	}
	layers[observe.LayerLink].Counters = map[string]uint64{
		"frames_in": st.FramesIn, "frames_out": st.FramesOut, "bytes_in": st.BytesIn, "bytes_out": st.BytesOut,
	}
	drops := []DropJSON{}
	for name, n := range st.DropCounts() {
		l := dropLayer(name)
		layers[l].Drops[name] = n
		drops = append(drops, DropJSON{Layer: string(l), Reason: name, Count: n, Explain: reasonExplain[name]})
	}
	layers[observe.LayerIPv4].Counters = map[string]uint64{
		"fragments_in": re.FragmentsIn, "reassembled": re.Completed, "reassembly_timeouts": re.TimedOut,
		"duplicate_fragments": re.Duplicates, "reassembly_in_progress": uint64(re.InProgress),
		"reassembly_bytes_held": uint64(re.BytesHeld), "reassembly_peak_bytes": uint64(re.PeakBytes),
	}
	for name, n := range re.Dropped {
		layers[observe.LayerIPv4].Drops["reassembly:"+name] = n
	}
	layers[observe.LayerTCP].Counters = map[string]uint64{
		"segments_in": tcp.SegmentsIn, "segments_out": tcp.SegmentsOut, "retransmissions": tcp.Retransmissions,
		"resets_sent": tcp.ResetsSent, "resets_received": tcp.ResetsReceived, "active_opens": tcp.ActiveOpens,
		"passive_opens": tcp.PassiveOpens, "challenge_acks": tcp.ChallengeACKs,
	}
	for name, n := range tcp.Drops {
		layers[observe.LayerTCP].Drops[name] = n
		drops = append(drops, DropJSON{Layer: string(observe.LayerTCP), Reason: name, Count: n})
	}
	sortDrops(drops)
	writeJSON(w, http.StatusOK, map[string]any{"host": h.Name(), "layers": layers, "drops": drops})
	return nil
}

func parseAddr(field, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, badRequest("%s is required", field)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, badRequest("%s %q is not an IPv4 address", field, s)
	}
	return a, nil
}

func parsePrefix(field, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, badRequest("%s is required", field)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, badRequest("%s %q is not an IPv4 prefix A/N", field, s)
	}
	return p, nil
}

// sortDrops orders drops by layer, then by count, largest first.
func sortDrops(d []DropJSON) {
	sort.Slice(d, func(i, j int) bool {
		if d[i].Layer != d[j].Layer {
			return d[i].Layer < d[j].Layer
		}
		if d[i].Count != d[j].Count {
			return d[i].Count > d[j].Count
		}
		return d[i].Reason < d[j].Reason
	})
}
