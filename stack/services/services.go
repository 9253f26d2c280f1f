package services

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
)

// Names are the services tipy knows, in the order they are started.
var Names = []string{"echo", "discard", "daytime", "chargen", "http"}

// Ports of the services (TCP and UDP alike).
const (
	PortEcho    = 7
	PortDiscard = 9
	PortDaytime = 13
	PortChargen = 19
	PortHTTP    = 80
)

// ParseList reads a --services value: comma-separated names or "all".
func ParseList(spec string) ([]string, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	var out []string
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(strings.ToLower(name))
		if name == "all" {
			return slices.Clone(Names), nil
		}
		if !slices.Contains(Names, name) {
			return nil, fmt.Errorf("unknown service %q (known: %s, or all)", name, strings.Join(Names, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// Running is one started server.
type Running struct {
	Service string // "echo"
	Proto   string // "udp" or "tcp"
	Port    int
	sock    *stack.Socket
}

func (r Running) String() string { return fmt.Sprintf("%s/%s %d", r.Service, r.Proto, r.Port) }

// Set is the servers running on one host.
type Set struct {
	s       *stack.Stack
	Running []Running

	conns []*streamConn // accepted stream connections still open, oldest first
	http  *HTTPServer
}

// Start starts the named services on s, over UDP and TCP where the service
// has both halves (chargen and http are TCP only). It must run on the
// stack's loop (from s.Call or loop work). Every server but http runs on
// the loop itself; http listens from here and serves from a goroutine that
// Start launches, whose first Accept waits until the caller's loop work
// returns. When a server cannot start (a port in use), the ones already
// started are stopped and the error says which.
func Start(now clock.Time, s *stack.Stack, names []string) (*Set, error) {
	set := &Set{s: s}
	for _, name := range names {
		var err error
		switch name {
		case "echo":
			err = set.udp(now, name, PortEcho, func(_ clock.Time, b []byte) []byte { return b })
			if err == nil {
				err = set.tcp(now, name, PortEcho, serveEcho)
			}
		case "discard":
			err = set.udp(now, name, PortDiscard, func(clock.Time, []byte) []byte { return nil })
			if err == nil {
				err = set.tcp(now, name, PortDiscard, serveDiscard)
			}
		case "daytime":
			err = set.udp(now, name, PortDaytime, func(now clock.Time, _ []byte) []byte { return []byte(Daytime(now)) })
			if err == nil {
				err = set.tcp(now, name, PortDaytime, serveDaytime)
			}
		case "chargen":
			err = set.tcp(now, name, PortChargen, serveChargen)
		case "http":
			err = set.startHTTP(now, PortHTTP)
		default:
			err = fmt.Errorf("unknown service %q", name)
		}
		if err != nil {
			set.Stop(now)
			return nil, err
		}
	}
	return set, nil
}

// startHTTP opens the http listening socket from loop work and starts
// net/http on it.
func (set *Set) startHTTP(now clock.Time, port int) error {
	if set.http != nil {
		return nil
	}
	so, err := set.listen(now, "http", port)
	if err != nil {
		return err
	}
	set.http = serveHTTP(set.s, stack.NewListener(so))
	set.Running = append(set.Running, Running{Service: "http", Proto: "tcp", Port: port, sock: so})
	return nil
}

// HTTP returns the http server Start started, or nil.
func (set *Set) HTTP() *HTTPServer { return set.http }

// Conns returns how many accepted stream connections the loop-driven
// servers (echo, discard, daytime, chargen) still hold open. Loop work only.
func (set *Set) Conns() int { return len(set.conns) }

// udp binds a datagram server on port whose reply (nil for none) is made by
// answer.
func (set *Set) udp(now clock.Time, name string, port int, answer func(now clock.Time, b []byte) []byte) error {
	so, err := set.s.SocketNow(now, stack.AF_INET, stack.SOCK_DGRAM, 0)
	if err != nil {
		return fmt.Errorf("%s/udp: %w", name, err)
	}
	if err := so.BindNow(now, netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port))); err != nil {
		so.CloseNow(now)
		return fmt.Errorf("%s/udp port %d: %w", name, port, err)
	}
	loop := set.s.Loop()
	so.SetNotify(func() {
		now := loop.Now()
		for {
			b, from, err := so.RecvFromNow(now, 65535)
			if err != nil {
				return // EAGAIN: nothing more to read; anything else: the socket closed
			}
			if reply := answer(now, b); reply != nil {
				so.SendToNow(now, reply, from) // a failed reply is counted and traced by the stack
			}
		}
	})
	set.Running = append(set.Running, Running{Service: name, Proto: "udp", Port: port, sock: so})
	return nil
}

// Stop closes every server and the connections of the loop-driven ones,
// in the order they were opened. Loop work only. The http server's
// listening socket closes at once; its open connections are closed by a
// goroutine shortly after (wait on HTTP().Done() to know when it has
// finished).
func (set *Set) Stop(now clock.Time) error {
	var errs []error
	for _, c := range slices.Clone(set.conns) {
		c.close(now)
	}
	for _, r := range set.Running {
		r.sock.SetNotify(nil)
		if err := r.sock.CloseNow(now); err != nil {
			errs = append(errs, err)
		}
	}
	set.Running = nil
	if set.http != nil {
		set.http.stopFromLoop()
	}
	return errors.Join(errs...)
}

// Daytime formats now as the daytime service does (RFC 867 leaves the
// format open; this is the ctime-like form most servers use), in UTC.
func Daytime(now clock.Time) string {
	return time.Unix(0, int64(now)).UTC().Format("Mon Jan _2 15:04:05 2006") + " UTC\r\n"
}
