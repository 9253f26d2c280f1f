package lab

import (
	"strings"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/host"
)

// Addresses of the built-in lab.
const (
	TipyAddr = "192.168.2.7"
	PeerAddr = "192.168.2.20"
	GwAddr   = "192.168.2.1"
	GwFar    = "10.0.5.1"
	FarAddr  = "10.0.5.10"
)

// Options tune the built-in lab.
type Options struct {
	Seed     uint64
	Bus      *observe.Bus
	MTU      int      // 1500 when 0
	Name     string   // name of host tipy; "tipy" when empty
	Services []string // built-in servers on host tipy (peer and far run all)
	Speed    float64  // see host.NetworkConfig.Speed
}

// Builtin builds the lab of `make run`: LAN 192.168.2.0/24 (switch "lan")
// with host tipy (192.168.2.7) and host peer (192.168.2.20), router gw
// (192.168.2.1 on the LAN, 10.0.5.1 on switch "net5") forwarding between
// them, and host far (10.0.5.10) behind it. tipy and peer use gw as default
// gateway; peer and far run every built-in service. The network is built,
// not started.
func Builtin(o Options) (*host.Network, error) {
	t, err := ParseTopology(strings.NewReader(BuiltinTopology))
	if err != nil {
		return nil, err // a bug: the built-in file is tested
	}
	return t.Build(o)
}
