package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"

	"github.com/tipy/tipy/stack/services"
	"github.com/tipy/tipy/stack/wire"
)

// options are the command-line flags of ../shared/contracts.md.
type options struct {
	listen   string
	tapName  string
	ip       netip.Prefix
	gateway  netip.Addr
	mac      wire.MAC
	mtu      int
	name     string
	services []string
	impair   string
	record   string
	seed     uint64
	token    string
	lab      string
	quiet    bool
	netns    string
	// afterOpen, when set, runs once the host's TAP device is open and
	// before the dashboard starts (netns-lab configures the kernel's side).
	afterOpen func() error
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("tipyweb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage:
  tipyweb [flags]            lab mode: an embedded virtual network on virtual time
  tipyweb --tap NAME [flags] host "tipy" attached to a real TAP device
  tipyweb replay FILE        dashboard over a recorded trace
  tipyweb netns-lab [flags]  (root) host tipy on a TAP device in a private network
                             namespace whose kernel is the peer; removed on exit
  tipyweb version

flags:
`)
		fs.PrintDefaults()
	}
	var ip, gw, mac, seed string
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "dashboard and API `address`")
	fs.StringVar(&o.tapName, "tap", "", "attach host tipy to TAP device `NAME` (created when missing; needs root or CAP_NET_ADMIN)")
	fs.StringVar(&ip, "ip", "", "host address and prefix `A/N` (TAP mode; required there)")
	fs.StringVar(&gw, "gateway", "", "default gateway `G` (optional)")
	fs.StringVar(&mac, "mac", "", "host `MAC` (TAP mode; default a stable locally administered MAC)")
	fs.IntVar(&o.mtu, "mtu", 1500, "link `MTU`")
	fs.StringVar(&o.name, "name", "tipy", "host `NAME` shown everywhere")
	var servicesSpec string
	fs.StringVar(&servicesSpec, "services", "", "built-in servers on host tipy: `LIST` of echo, discard, daytime, chargen, http, or all")
	fs.StringVar(&o.impair, "impair", "", "impair the host's link both ways, e.g. `loss=1%,delay=10ms`")
	fs.StringVar(&o.record, "record", "", "record the whole trace to `FILE` from the start")
	fs.StringVar(&seed, "seed", "1", "`N`: seed of every random choice")
	fs.StringVar(&o.token, "token", "", "API `token`; required for a non-loopback --listen (generated when absent)")
	fs.StringVar(&o.lab, "lab", "", "lab topology `FILE` instead of the built-in one")
	fs.BoolVar(&o.quiet, "quiet", false, "do not log the stack's events to standard error")
	fs.StringVar(&o.netns, "netns", "", "open the TAP device inside network namespace `NAME` (TAP mode; the dashboard stays in the process's own)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	var err error
	if o.services, err = services.ParseList(servicesSpec); err != nil {
		return nil, usageError{fmt.Errorf("--services: %w", err)}
	}
	if o.seed, err = strconv.ParseUint(seed, 10, 64); err != nil {
		return nil, usageError{fmt.Errorf("--seed %q: want a whole number", seed)}
	}
	if ip != "" {
		if o.ip, err = netip.ParsePrefix(ip); err != nil || !o.ip.Addr().Is4() {
			return nil, usageError{fmt.Errorf("--ip %q: want an IPv4 address with prefix, like 192.168.2.7/24", ip)}
		}
	}
	if gw != "" {
		if o.gateway, err = netip.ParseAddr(gw); err != nil || !o.gateway.Is4() {
			return nil, usageError{fmt.Errorf("--gateway %q: want an IPv4 address", gw)}
		}
	}
	if mac != "" {
		if o.mac, err = wire.ParseMAC(mac); err != nil {
			return nil, usageError{fmt.Errorf("--mac: %v", err)}
		}
	}
	if o.tapName != "" && !o.ip.IsValid() {
		return nil, usageError{errors.New("--tap needs --ip A/N (the host's address on that network)")}
	}
	if o.tapName == "" && (ip != "" || mac != "") {
		return nil, usageError{errors.New("--ip and --mac apply to --tap mode; the lab has its own addresses")}
	}
	if o.netns != "" && o.tapName == "" {
		return nil, usageError{errors.New("--netns applies to --tap mode")}
	}
	if o.tapName != "" && o.lab != "" {
		return nil, usageError{errors.New("--lab describes the virtual lab; it does not apply to --tap mode")}
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return nil, usageError{fmt.Errorf("--listen %q: want host:port", o.listen)}
	}
	if o.mtu < 68 || o.mtu > 65535 {
		return nil, usageError{fmt.Errorf("--mtu %d: must be between 68 and 65535", o.mtu)}
	}
	return o, nil
}
