package stack

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Socket options, named as in C and Python (setsockopt(level, name, value)).
// Values are Go values: bool for flags, int for numbers, Linger for
// SO_LINGER, Membership for IP_ADD_MEMBERSHIP/IP_DROP_MEMBERSHIP, []byte or
// []wire.IPv4Option for IP_OPTIONS, netip.Addr for IP_MULTICAST_IF, string
// for TCP_CONGESTION.

// Level is a socket option level.
type Level string

// Option levels.
const (
	SOL_SOCKET  Level = "SOL_SOCKET"
	IPPROTO_IP  Level = "IPPROTO_IP"
	IPPROTO_TCP Level = "IPPROTO_TCP"
)

// Option names.
const (
	SO_REUSEADDR       = "SO_REUSEADDR"
	SO_BROADCAST       = "SO_BROADCAST"
	SO_LINGER          = "SO_LINGER"
	SO_KEEPALIVE       = "SO_KEEPALIVE"
	SO_RCVBUF          = "SO_RCVBUF"
	SO_SNDBUF          = "SO_SNDBUF"
	SO_ERROR           = "SO_ERROR"
	SO_TYPE            = "SO_TYPE"
	IP_TTL             = "IP_TTL"
	IP_TOS             = "IP_TOS"
	IP_OPTIONS         = "IP_OPTIONS"
	IP_HDRINCL         = "IP_HDRINCL"
	IP_MULTICAST_TTL   = "IP_MULTICAST_TTL"
	IP_MULTICAST_LOOP  = "IP_MULTICAST_LOOP"
	IP_MULTICAST_IF    = "IP_MULTICAST_IF"
	IP_ADD_MEMBERSHIP  = "IP_ADD_MEMBERSHIP"
	IP_DROP_MEMBERSHIP = "IP_DROP_MEMBERSHIP"
	TCP_NODELAY        = "TCP_NODELAY"
	TCP_MAXSEG         = "TCP_MAXSEG"
	TCP_CONGESTION     = "TCP_CONGESTION"
	TCP_KEEPIDLE       = "TCP_KEEPIDLE"
	TCP_KEEPINTVL      = "TCP_KEEPINTVL"
	TCP_KEEPCNT        = "TCP_KEEPCNT"
)

// Linger is the value of SO_LINGER.
type Linger struct {
	On      bool `json:"on"`
	Seconds int  `json:"seconds"`
}

// Membership is the value of IP_ADD_MEMBERSHIP and IP_DROP_MEMBERSHIP: a
// group and the address of the interface to join it on (unspecified: the
// first interface).
type Membership struct {
	Group     netip.Addr `json:"group"`
	Interface netip.Addr `json:"interface"`
}

type membership struct {
	group netip.Addr
	iface *Iface
}

// sockOpts are the options of one socket.
type sockOpts struct {
	reuseAddr, broadcast, keepalive, hdrIncl bool
	linger                                   Linger
	rcvBuf, sndBuf                           int
	ttl, tos, mcastTTL                       uint8
	mcastLoop                                bool
	mcastIface                               *Iface
	ipOptions                                []wire.IPv4Option
	memberships                              []membership
	// TCP
	noDelay             bool
	maxSeg              int
	congestion          string
	keepIdle, keepIntvl time.Duration
	keepCnt             int
}

func defaultSockOpts() sockOpts {
	return sockOpts{
		rcvBuf: 256 << 10, sndBuf: 256 << 10,
		mcastTTL: 1, mcastLoop: true,
		keepIdle: 2 * time.Hour, keepIntvl: 75 * time.Second, keepCnt: 9,
	}
}

// sendOptions turns the socket's options into the IPv4 layer's.
func (so *Socket) sendOptions() *SendOptions {
	o := &so.opts
	return &SendOptions{
		TTL: o.ttl, TOS: o.tos, Options: o.ipOptions,
		MulticastTTL: o.mcastTTL, MulticastLoop: o.mcastLoop, MulticastIface: o.mcastIface,
		Broadcast: o.broadcast,
	}
}

func (o *sockOpts) snapshot() map[string]any {
	m := map[string]any{
		SO_REUSEADDR: o.reuseAddr, SO_BROADCAST: o.broadcast, SO_KEEPALIVE: o.keepalive,
		SO_LINGER: o.linger, SO_RCVBUF: o.rcvBuf, SO_SNDBUF: o.sndBuf,
		IP_TTL: o.ttl, IP_TOS: o.tos, IP_MULTICAST_TTL: o.mcastTTL, IP_MULTICAST_LOOP: o.mcastLoop,
		IP_HDRINCL: o.hdrIncl, TCP_NODELAY: o.noDelay,
	}
	if o.ttl == 0 {
		m[IP_TTL] = DefaultTTL
	}
	if len(o.ipOptions) > 0 {
		opts := make([]string, len(o.ipOptions))
		for i, x := range o.ipOptions {
			opts[i] = x.String()
		}
		m[IP_OPTIONS] = opts
	}
	if len(o.memberships) > 0 {
		gs := make([]string, len(o.memberships))
		for i, g := range o.memberships {
			gs[i] = g.group.String() + "@" + g.iface.name
		}
		m["memberships"] = gs
	}
	if o.congestion != "" {
		m[TCP_CONGESTION] = o.congestion
	}
	return m
}

// SetSockopt sets an option, as socket.setsockopt(level, name, value).
func (so *Socket) SetSockopt(level Level, name string, value any) error {
	return so.do("setsockopt", func(now clock.Time) error { return so.setOpt(now, level, name, value) })
}

// GetSockopt returns an option's value.
func (so *Socket) GetSockopt(level Level, name string) (any, error) {
	var v any
	err := so.do("getsockopt", func(clock.Time) error {
		var err error
		v, err = so.getOpt(level, name)
		return err
	})
	return v, err
}

func optErr(name string, format string, args ...any) error {
	return sockErr("setsockopt", "", EINVAL, name+": "+fmt.Sprintf(format, args...))
}

func asBool(name string, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int:
		return x != 0, nil
	}
	return false, optErr(name, "want a boolean, got %T", v)
}

func asInt(name string, v any, min, max int) (int, error) {
	var n int
	switch x := v.(type) {
	case int:
		n = x
	case int64:
		n = int(x)
	case float64: // from JSON
		if x != float64(int(x)) {
			return 0, optErr(name, "want a whole number, got %v", x)
		}
		n = int(x)
	default:
		return 0, optErr(name, "want a number, got %T", v)
	}
	if n < min || n > max {
		return 0, optErr(name, "%d is out of range [%d, %d]", n, min, max)
	}
	return n, nil
}

func (so *Socket) setOpt(now clock.Time, level Level, name string, v any) error {
	o := &so.opts
	var err error
	switch level {
	case SOL_SOCKET:
		switch name {
		case SO_REUSEADDR:
			o.reuseAddr, err = asBool(name, v)
		case SO_BROADCAST:
			o.broadcast, err = asBool(name, v)
		case SO_KEEPALIVE:
			o.keepalive, err = asBool(name, v)
		case SO_LINGER:
			l, ok := v.(Linger)
			if !ok {
				return optErr(name, "want a Linger{On, Seconds}, got %T", v)
			}
			if l.Seconds < 0 {
				return optErr(name, "seconds must not be negative")
			}
			o.linger = l
		case SO_RCVBUF:
			o.rcvBuf, err = asInt(name, v, 2048, 64<<20)
		case SO_SNDBUF:
			o.sndBuf, err = asInt(name, v, 2048, 64<<20)
		case SO_ERROR, SO_TYPE:
			return sockErr("setsockopt", "", ENOPROTOOPT, name+" can only be read")
		default:
			return sockErr("setsockopt", "", ENOPROTOOPT, "unknown SOL_SOCKET option "+name)
		}
	case IPPROTO_IP:
		switch name {
		case IP_TTL:
			var n int
			n, err = asInt(name, v, 1, 255)
			o.ttl = uint8(n)
		case IP_TOS:
			var n int
			n, err = asInt(name, v, 0, 255)
			o.tos = uint8(n)
		case IP_MULTICAST_TTL:
			var n int
			n, err = asInt(name, v, 0, 255)
			o.mcastTTL = uint8(n)
		case IP_MULTICAST_LOOP:
			o.mcastLoop, err = asBool(name, v)
		case IP_HDRINCL:
			if so.typ != SOCK_RAW {
				return sockErr("setsockopt", "", ENOPROTOOPT, "IP_HDRINCL applies to raw sockets")
			}
			o.hdrIncl, err = asBool(name, v)
		case IP_OPTIONS:
			o.ipOptions, err = parseIPOptionsValue(v)
		case IP_MULTICAST_IF:
			a, ok := v.(netip.Addr)
			if !ok {
				return optErr(name, "want an interface address, got %T", v)
			}
			ifc := so.s.ifaceByAddr(a)
			if ifc == nil && !a.IsUnspecified() {
				return sockErr("setsockopt", a.String(), EADDRNOTAVAIL, "no interface has this address")
			}
			o.mcastIface = ifc
		case IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP:
			m, ok := v.(Membership)
			if !ok {
				return optErr(name, "want a Membership{Group, Interface}, got %T", v)
			}
			return so.membership(now, name == IP_ADD_MEMBERSHIP, m)
		default:
			return sockErr("setsockopt", "", ENOPROTOOPT, "unknown IPPROTO_IP option "+name)
		}
	case IPPROTO_TCP:
		if so.typ != SOCK_STREAM {
			return sockErr("setsockopt", "", ENOPROTOOPT, "IPPROTO_TCP options apply to stream sockets")
		}
		switch name {
		case TCP_NODELAY:
			o.noDelay, err = asBool(name, v)
		case TCP_MAXSEG:
			o.maxSeg, err = asInt(name, v, 88, 65495)
		case TCP_CONGESTION:
			s, ok := v.(string)
			if !ok || (s != "newreno" && s != "reno" && s != "cubic") {
				return optErr(name, "want \"newreno\" or \"cubic\", got %v", v)
			}
			o.congestion = s
		case TCP_KEEPIDLE, TCP_KEEPINTVL:
			var n int
			if n, err = asInt(name, v, 1, 32767); err == nil {
				if name == TCP_KEEPIDLE {
					o.keepIdle = time.Duration(n) * time.Second
				} else {
					o.keepIntvl = time.Duration(n) * time.Second
				}
			}
		case TCP_KEEPCNT:
			o.keepCnt, err = asInt(name, v, 1, 127)
		default:
			return sockErr("setsockopt", "", ENOPROTOOPT, "unknown IPPROTO_TCP option "+name)
		}
	default:
		return sockErr("setsockopt", "", EINVAL, "unknown level "+string(level))
	}
	if err == nil {
		if h, ok := so.impl.(interface {
			optionChanged(now clock.Time, name string)
		}); ok {
			h.optionChanged(now, name)
		}
	}
	return err
}

func parseIPOptionsValue(v any) ([]wire.IPv4Option, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []wire.IPv4Option:
		h := wire.IPv4Header{TTL: 1, Src: netip.IPv4Unspecified(), Dst: netip.IPv4Unspecified(), Options: x}
		if h.HeaderLen() > 60 {
			return nil, optErr(IP_OPTIONS, "options take %d bytes; at most 40 fit", h.HeaderLen()-20)
		}
		return append([]wire.IPv4Option(nil), x...), nil
	case []byte:
		if len(x) == 0 {
			return nil, nil
		}
		if len(x) > 40 {
			return nil, optErr(IP_OPTIONS, "%d bytes; at most 40 fit in an IPv4 header", len(x))
		}
		// Parse the options by wrapping them in a minimal header.
		hdr := make([]byte, 20+(len(x)+3)/4*4)
		hdr[0] = 0x40 | byte(len(hdr)/4)
		hdr[3] = byte(len(hdr))
		hdr[8] = 1
		copy(hdr[20:], x)
		h, err := wire.ParseIPv4(hdr)
		if err != nil {
			return nil, optErr(IP_OPTIONS, "%v", err)
		}
		out := make([]wire.IPv4Option, len(h.Options))
		for i, o := range h.Options {
			out[i] = wire.IPv4Option{Type: o.Type, Data: append([]byte(nil), o.Data...)}
		}
		return out, nil
	}
	return nil, optErr(IP_OPTIONS, "want option bytes, got %T", v)
}

func (so *Socket) getOpt(level Level, name string) (any, error) {
	if level == SOL_SOCKET && name == SO_ERROR {
		err := so.takeSoftError()
		if err == nil {
			return EOK, nil
		}
		if se, ok := err.(*SocketError); ok {
			return se.Errno, nil
		}
		return err, nil
	}
	if level == SOL_SOCKET && name == SO_TYPE {
		return so.typ, nil
	}
	if name == IP_ADD_MEMBERSHIP || name == IP_DROP_MEMBERSHIP {
		return nil, sockErr("getsockopt", "", ENOPROTOOPT, name+" can only be set")
	}
	if v, ok := so.opts.snapshot()[name]; ok {
		return v, nil
	}
	switch name {
	case IP_OPTIONS:
		return []wire.IPv4Option(nil), nil
	case IP_MULTICAST_IF:
		if so.opts.mcastIface == nil {
			return netip.IPv4Unspecified(), nil
		}
		return so.opts.mcastIface.addr.Addr(), nil
	case TCP_MAXSEG:
		return so.opts.maxSeg, nil
	case TCP_CONGESTION:
		return so.s.congestion, nil
	case TCP_KEEPIDLE:
		return int(so.opts.keepIdle / time.Second), nil
	case TCP_KEEPINTVL:
		return int(so.opts.keepIntvl / time.Second), nil
	case TCP_KEEPCNT:
		return so.opts.keepCnt, nil
	}
	return nil, sockErr("getsockopt", "", ENOPROTOOPT, fmt.Sprintf("unknown option %s at level %s", name, level))
}

// membership joins or leaves a multicast group for the socket.
func (so *Socket) membership(now clock.Time, join bool, m Membership) error {
	ifc := so.s.ifaces[0]
	if m.Interface.IsValid() && !m.Interface.IsUnspecified() {
		if ifc = so.s.ifaceByAddr(m.Interface); ifc == nil {
			return sockErr("setsockopt", m.Interface.String(), EADDRNOTAVAIL, "no interface has this address")
		}
	}
	o := &so.opts
	for i, g := range o.memberships {
		if g.group == m.Group && g.iface == ifc {
			if join {
				return sockErr("setsockopt", m.Group.String(), EADDRINUSE, "already a member on "+ifc.name)
			}
			o.memberships = append(o.memberships[:i], o.memberships[i+1:]...)
			return ifc.LeaveGroup(now, m.Group)
		}
	}
	if !join {
		return sockErr("setsockopt", m.Group.String(), EADDRNOTAVAIL, "not a member on "+ifc.name)
	}
	if err := ifc.JoinGroup(now, m.Group); err != nil {
		return err
	}
	o.memberships = append(o.memberships, membership{m.Group, ifc})
	return nil
}

// ifaceByAddr returns the interface with address a, or nil.
func (s *Stack) ifaceByAddr(a netip.Addr) *Iface {
	for _, ifc := range s.ifaces {
		if ifc.addr.Addr() == a {
			return ifc
		}
	}
	return nil
}
