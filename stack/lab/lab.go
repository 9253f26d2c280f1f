package lab

import (
	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/host"
	"github.com/tipy/tipy/stack/services"
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
	if o.Name == "" {
		o.Name = "tipy"
	}
	n := host.NewNetwork(host.NetworkConfig{Seed: o.Seed, Bus: o.Bus, MTU: o.MTU, Speed: o.Speed})
	steps := []func() error{
		func() error {
			_, err := n.AddHost(host.HostConfig{Name: o.Name, Switch: "lan", Addr: TipyAddr + "/24", Gateway: GwAddr, Services: o.Services})
			return err
		},
		func() error {
			_, err := n.AddHost(host.HostConfig{Name: "peer", Switch: "lan", Addr: PeerAddr + "/24", Gateway: GwAddr, Services: services.Names})
			return err
		},
		func() error {
			_, err := n.AddHost(host.HostConfig{Name: "gw", Switch: "lan", Addr: GwAddr + "/24", Forwarding: true})
			return err
		},
		func() error { return n.AddInterface("gw", "eth1", "net5", GwFar+"/24") },
		func() error {
			_, err := n.AddHost(host.HostConfig{Name: "far", Switch: "net5", Addr: FarAddr + "/24", Gateway: GwFar, Services: services.Names})
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}
