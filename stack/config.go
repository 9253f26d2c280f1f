package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/stack/wire"
)

// Config is a host's configuration. Name, MAC and Addr are required.
type Config struct {
	Name    string       // host name in events and the dashboard, e.g. "tipy"
	MAC     wire.MAC     // the host's own MAC address
	Addr    netip.Prefix // address and prefix, e.g. 192.168.2.7/24
	Gateway netip.Addr   // default gateway; the zero Addr means none
	MTU     int          // link MTU; 0 means the link's MTU
	Seed    uint64       // seed of every random choice of this host

	ARP  ARPConfig  // zero value: the defaults of ARPConfig
	IPv4 IPv4Config // zero value: the defaults of IPv4Config
}

// IPv4Config tunes the IPv4 and ICMP layers. Zero fields take the default.
type IPv4Config struct {
	ReassemblyTimeout time.Duration // default 30s (RFC 1122 §3.3.2 suggests 60 s to 120 s; Linux uses 30 s)
	ReassemblyMemory  int           // bytes of all incomplete datagrams together; default 4 MiB
	ICMPRateLimit     time.Duration // minimum spacing of ICMP errors (token bucket refill); default 100ms; negative: no limit
	ICMPBurst         int           // ICMP errors allowed back to back; default 10
}

// Validate reports the first problem with c, in words a person can act on.
func (c *Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if c.MAC == (wire.MAC{}) || c.MAC.IsMulticast() {
		errs = append(errs, fmt.Errorf("mac %s: must be a unicast address", c.MAC))
	}
	if !c.Addr.IsValid() || !c.Addr.Addr().Is4() {
		errs = append(errs, fmt.Errorf("address %v: must be an IPv4 address with prefix, like 192.168.2.7/24", c.Addr))
	}
	if c.Gateway.IsValid() && (!c.Gateway.Is4() || !c.Addr.Contains(c.Gateway)) {
		errs = append(errs, fmt.Errorf("gateway %v: must be an IPv4 address inside %v", c.Gateway, c.Addr.Masked()))
	}
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		errs = append(errs, fmt.Errorf("mtu %d: must be between 68 (RFC 791) and 65535", c.MTU))
	}
	if len(errs) > 0 {
		return fmt.Errorf("stack config: %w", errors.Join(errs...))
	}
	return nil
}
