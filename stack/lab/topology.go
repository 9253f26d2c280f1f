package lab

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tipy/tipy/stack/host"
	"github.com/tipy/tipy/stack/services"
	"github.com/tipy/tipy/tap"
)

// BuiltinTopology is the topology file of the built-in lab.
//
//go:embed builtin.lab
var BuiltinTopology string

// ErrTopology is wrapped by every error of ParseTopology.
var ErrTopology = errors.New("lab topology")

// Topology is a lab read from a topology file. The format is one statement
// per line; '#' starts a comment; words are separated by blanks:
//
//	mtu N                            default MTU of every host (1500)
//	switch NAME                      a switch (switches are also made on first use)
//	host NAME SWITCH ADDR/N [gateway G] [services LIST]
//	                                 a host with one interface (eth0) on SWITCH
//	router NAME SWITCH ADDR/N SWITCH ADDR/N ...
//	                                 a host forwarding between its interfaces
//	                                 eth0, eth1, ... (one per SWITCH ADDR/N pair)
//	impair SWITCH/HOST SPEC          impair that link both ways, SPEC as --impair
//	                                 (e.g. loss=1%,delay=10ms)
//
// LIST is a comma-separated list of built-in services (echo, discard,
// daytime, chargen, http) or "all". The first host of the file is the one
// the dashboard shows first and the one --name and --services apply to.
type Topology struct {
	MTU     int
	Hosts   []HostSpec
	Impairs []ImpairSpec
	order   []string // switches in the order they were named
}

// HostSpec is a host or router of a topology.
type HostSpec struct {
	Name     string
	Ifaces   []IfaceSpec // Ifaces[0] is eth0
	Gateway  netip.Addr  // hosts only
	Services []string
	Router   bool
	Line     int
}

// IfaceSpec is one interface: the switch it plugs into and its address.
type IfaceSpec struct {
	Switch string
	Addr   netip.Prefix
}

// ImpairSpec impairs one link.
type ImpairSpec struct {
	Link string // "switch/host"
	Imp  tap.Impairment
	Line int
}

// ParseTopology reads a topology file. Errors name the line and what is
// wrong with it, and wrap ErrTopology.
func ParseTopology(r io.Reader) (*Topology, error) {
	t := &Topology{MTU: 1500}
	names := map[string]bool{}
	switches := map[string]bool{}
	useSwitch := func(s string) {
		if !switches[s] {
			switches[s] = true
			t.order = append(t.order, s)
		}
	}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: line %d (%s): %s", ErrTopology, n, strings.TrimSpace(line), fmt.Sprintf(format, args...))
		}
		switch f[0] {
		case "mtu":
			if len(f) != 2 {
				return nil, bad("want: mtu N")
			}
			v, err := strconv.Atoi(f[1])
			if err != nil || v < 68 || v > 65535 {
				return nil, bad("MTU %q must be a whole number between 68 and 65535", f[1])
			}
			t.MTU = v
		case "switch":
			if len(f) != 2 || !validName(f[1]) {
				return nil, bad("want: switch NAME (letters, digits, - and _)")
			}
			useSwitch(f[1])
		case "host", "router":
			if len(f) < 4 || !validName(f[1]) {
				return nil, bad("want: %s NAME SWITCH ADDR/N ...", f[0])
			}
			if names[f[1]] {
				return nil, bad("a host called %s is already defined", f[1])
			}
			names[f[1]] = true
			h := HostSpec{Name: f[1], Router: f[0] == "router", Line: n}
			rest := f[2:]
			for len(rest) >= 2 {
				if !h.Router && len(h.Ifaces) == 1 {
					break
				}
				if rest[0] == "gateway" || rest[0] == "services" {
					break
				}
				if !validName(rest[0]) {
					return nil, bad("switch name %q: use letters, digits, - and _", rest[0])
				}
				p, err := netip.ParsePrefix(rest[1])
				if err != nil || !p.Addr().Is4() {
					return nil, bad("address %q: want an IPv4 address with prefix, like 10.0.0.1/24", rest[1])
				}
				h.Ifaces = append(h.Ifaces, IfaceSpec{Switch: rest[0], Addr: p})
				useSwitch(rest[0])
				rest = rest[2:]
			}
			if h.Router && len(h.Ifaces) < 2 {
				return nil, bad("a router needs at least two SWITCH ADDR/N pairs")
			}
			for len(rest) > 0 {
				if len(rest) < 2 {
					return nil, bad("%q needs a value", rest[0])
				}
				switch rest[0] {
				case "gateway":
					if h.Router {
						return nil, bad("a router has no default gateway in this format")
					}
					g, err := netip.ParseAddr(rest[1])
					if err != nil || !g.Is4() || !h.Ifaces[0].Addr.Contains(g) {
						return nil, bad("gateway %q: want an IPv4 address inside %v", rest[1], h.Ifaces[0].Addr.Masked())
					}
					h.Gateway = g
				case "services":
					list, err := services.ParseList(rest[1])
					if err != nil {
						return nil, bad("%v", err)
					}
					h.Services = list
				default:
					return nil, bad("unexpected %q (want gateway G or services LIST)", rest[0])
				}
				rest = rest[2:]
			}
			t.Hosts = append(t.Hosts, h)
		case "impair":
			if len(f) != 3 || !strings.Contains(f[1], "/") {
				return nil, bad("want: impair SWITCH/HOST SPEC")
			}
			imp, err := tap.ParseImpairment(f[2])
			if err != nil {
				return nil, bad("%v", err)
			}
			t.Impairs = append(t.Impairs, ImpairSpec{Link: f[1], Imp: imp, Line: n})
		default:
			return nil, bad("unknown statement %q (want mtu, switch, host, router or impair)", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTopology, err)
	}
	if len(t.Hosts) == 0 {
		return nil, fmt.Errorf("%w: no host defined", ErrTopology)
	}
	for _, im := range t.Impairs {
		sw, h, _ := strings.Cut(im.Link, "/")
		if !t.hasPort(sw, h) {
			return nil, fmt.Errorf("%w: line %d: no link %s (host %s is not on switch %s)", ErrTopology, im.Line, im.Link, h, sw)
		}
	}
	return t, nil
}

func (t *Topology) hasPort(sw, name string) bool {
	for _, h := range t.Hosts {
		if h.Name != name {
			continue
		}
		for _, ifc := range h.Ifaces {
			if ifc.Switch == sw {
				return true
			}
		}
	}
	return false
}

func validName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Build makes the network of t. o.Name renames the first host and
// o.Services adds to its services; o.MTU, when set, overrides the file's.
// The network is built, not started.
func (t *Topology) Build(o Options) (*host.Network, error) {
	mtu := t.MTU
	if o.MTU != 0 {
		mtu = o.MTU
	}
	n := host.NewNetwork(host.NetworkConfig{Seed: o.Seed, Bus: o.Bus, MTU: mtu, Speed: o.Speed})
	for _, sw := range t.order {
		n.Switch(sw)
	}
	rename := func(s string) string {
		if o.Name != "" && s == t.Hosts[0].Name {
			return o.Name
		}
		return s
	}
	fail := func(err error) (*host.Network, error) {
		n.Close()
		return nil, err
	}
	for i, h := range t.Hosts {
		c := host.HostConfig{Name: rename(h.Name), Switch: h.Ifaces[0].Switch, Addr: h.Ifaces[0].Addr.String(), Services: h.Services, Forwarding: h.Router}
		if h.Gateway.IsValid() {
			c.Gateway = h.Gateway.String()
		}
		if i == 0 {
			c.Services = mergeServices(c.Services, o.Services)
		}
		if _, err := n.AddHost(c); err != nil {
			return fail(fmt.Errorf("%w: line %d: %v", ErrTopology, h.Line, err))
		}
		for k, ifc := range h.Ifaces[1:] {
			if err := n.AddInterface(c.Name, fmt.Sprintf("eth%d", k+1), ifc.Switch, ifc.Addr.String()); err != nil {
				return fail(fmt.Errorf("%w: line %d: %v", ErrTopology, h.Line, err))
			}
		}
	}
	for _, im := range t.Impairs {
		sw, h, _ := strings.Cut(im.Link, "/")
		if err := n.Impair(sw+"/"+rename(h), im.Imp); err != nil {
			return fail(fmt.Errorf("%w: line %d: %v", ErrTopology, im.Line, err))
		}
	}
	return n, nil
}

// mergeServices returns a followed by the names of b not in a.
func mergeServices(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		found := false
		for _, x := range out {
			found = found || x == s
		}
		if !found {
			out = append(out, s)
		}
	}
	return out
}
