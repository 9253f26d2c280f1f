// Package demo is what the example programs share: their common flags, and
// the place each runs in, an in-process virtual network of two hosts (the
// default) or one tipy host on a TAP device.
//
// In the virtual network, host "tipy" is 10.0.0.1/24 and host "peer"
// 10.0.0.2/24, on one switch, on virtual time paced at real time. On a TAP
// device (-tap NAME -ip A/N), tipy is the only host of the program; the other
// side is a real machine, whose address -peer gives.
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/host"
)

// Addresses of the virtual network.
const (
	TipyAddr = "10.0.0.1"
	PeerAddr = "10.0.0.2"
)

// Flags are the flags every example takes.
type Flags struct {
	TAP     string // -tap: TAP device to attach tipy to; empty: the virtual network
	IP      string // -ip: tipy's address and prefix on the TAP device
	Gateway string // -gateway: tipy's default gateway on the TAP device
	Peer    string // -peer: the other side's address on the TAP device's network
	Seed    uint64 // -seed: the seed of every random choice
}

// Register adds the common flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.TAP, "tap", "", "attach tipy to this TAP device (root or CAP_NET_ADMIN) instead of an in-process virtual network")
	fs.StringVar(&f.IP, "ip", "", "tipy's address and prefix on the TAP device, e.g. 192.168.2.7/24")
	fs.StringVar(&f.Gateway, "gateway", "", "tipy's default gateway on the TAP device")
	fs.StringVar(&f.Peer, "peer", "", "address of the other side on the TAP device's network")
	fs.Uint64Var(&f.Seed, "seed", 1, "seed of every random choice (ports, sequence numbers)")
}

// UsageError is a mistake on the command line.
type UsageError struct {
	Err     error
	printed bool // the flag package has printed it, with the usage
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Parse parses args into a new flag set named name, after extra has added
// the example's own flags to it. Problems with the flags are *UsageError.
func Parse(name string, args []string, extra func(fs *flag.FlagSet)) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f.Register(fs)
	if extra != nil {
		extra(fs)
	}
	usage := func(format string, a ...any) error {
		return &UsageError{Err: fmt.Errorf(name+": "+format, a...)}
	}
	if err := fs.Parse(args); err != nil {
		return f, &UsageError{Err: err, printed: true}
	}
	switch {
	case fs.NArg() > 0:
		return f, usage("unexpected arguments %q", fs.Args())
	case f.TAP == "" && (f.IP != "" || f.Gateway != "" || f.Peer != ""):
		return f, usage("-ip, -gateway and -peer go with -tap")
	case f.TAP != "" && f.IP == "":
		return f, usage("-tap needs -ip, tipy's address and prefix (e.g. -ip 192.168.2.7/24)")
	}
	return f, nil
}

// Options are what an example adds to the common part of Open.
type Options struct {
	// Flags adds the example's own flags to the flag set.
	Flags func(fs *flag.FlagSet)
	// Check, if not nil, checks the parsed flags further; an error it
	// returns is a usage error, worded "name: " followed by its text.
	Check func(f Flags) error
	// Bus, if not nil, receives every event of the hosts.
	Bus *observe.Bus
}

// Open parses args as Parse does, checks them with opts.Check, then starts
// the example's place as Start does. Close the Env when done.
func Open(ctx context.Context, name string, args []string, stdout io.Writer, opts Options) (*Env, error) {
	f, err := Parse(name, args, opts.Flags)
	if err != nil {
		return nil, err
	}
	if opts.Check != nil {
		if err := opts.Check(f); err != nil {
			return nil, &UsageError{Err: fmt.Errorf("%s: %w", name, err)}
		}
	}
	return Start(ctx, f, opts.Bus, stdout)
}

// Env is where an example runs.
type Env struct {
	// Tipy is tipy's host: 10.0.0.1 in the virtual network, or the host on
	// the TAP device.
	Tipy *host.Host
	// Peer is the host playing the other side in the virtual network; nil on
	// a TAP device, where a real machine plays it.
	Peer *host.Host
	// PeerAddr is the other side's address: 10.0.0.2 in the virtual network,
	// -peer on a TAP device (the zero Addr when -peer is not given).
	PeerAddr netip.Addr
	// Network is the virtual network, nil on a TAP device.
	Network *host.Network
}

// Virtual reports whether the example runs in the virtual network.
func (e *Env) Virtual() bool { return e.Network != nil }

// Serves reports whether tipy plays the server for the machines of the real
// network: on a TAP device without -peer.
func (e *Env) Serves() bool { return !e.Virtual() && !e.PeerAddr.IsValid() }

// Start makes the example's place (with bus, if not nil, receiving every
// event) and waits until its addresses are usable (RFC 5227 probes). Close
// it when done.
func Start(ctx context.Context, f Flags, bus *observe.Bus, out io.Writer) (*Env, error) {
	if f.TAP == "" {
		n := host.NewNetwork(host.NetworkConfig{Seed: f.Seed, Bus: bus})
		tipy, err := n.AddHost(host.HostConfig{Name: "tipy", Addr: TipyAddr + "/24"})
		if err != nil {
			return nil, err
		}
		peer, err := n.AddHost(host.HostConfig{Name: "peer", Addr: PeerAddr + "/24"})
		if err != nil {
			return nil, err
		}
		if err := n.Start(); err != nil {
			return nil, err
		}
		if err := n.WaitReady(ctx); err != nil {
			n.Close()
			return nil, err
		}
		return &Env{Tipy: tipy, Peer: peer, PeerAddr: peer.Addr(), Network: n}, nil
	}
	cfg := host.Config{Name: "tipy", TAP: f.TAP, Seed: f.Seed, Bus: bus}
	var err error
	if cfg.Addr, err = netip.ParsePrefix(f.IP); err != nil {
		return nil, fmt.Errorf("-ip %q: want an IPv4 address and prefix, e.g. 192.168.2.7/24", f.IP)
	}
	if f.Gateway != "" {
		if cfg.Gateway, err = netip.ParseAddr(f.Gateway); err != nil {
			return nil, fmt.Errorf("-gateway %q: want an IPv4 address", f.Gateway)
		}
	}
	e := &Env{}
	if f.Peer != "" {
		if e.PeerAddr, err = netip.ParseAddr(f.Peer); err != nil {
			return nil, fmt.Errorf("-peer %q: want an IPv4 address", f.Peer)
		}
	}
	if e.Tipy, err = host.Start(cfg); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "tipy: %s on %s, probing the address for conflicts (RFC 5227)\n", cfg.Addr, f.TAP)
	if err := e.Tipy.WaitReady(ctx); err != nil {
		e.Tipy.Close()
		return nil, err
	}
	return e, nil
}

// Close stops the hosts.
func (e *Env) Close() error {
	if e.Network != nil {
		return e.Network.Close()
	}
	return e.Tipy.Close()
}

// Logger returns a function that prints one line to out, prefixed with
// the name of the host that speaks ("tipy: ...").
func Logger(out io.Writer, host string) func(format string, a ...any) {
	return func(format string, a ...any) {
		fmt.Fprintf(out, host+": "+format+"\n", a...)
	}
}

// Interrupted returns a context that ends on Ctrl-C, for examples that serve
// until stopped.
func Interrupted(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt)
}

// Main runs an example's run function as a program: exit status 2 for a
// usage error, 1 for any other error.
func Main(run func(args []string, stdout io.Writer) error) {
	err := run(os.Args[1:], os.Stdout)
	var usage *UsageError
	switch {
	case err == nil:
	case errors.As(err, &usage):
		if !usage.printed {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
