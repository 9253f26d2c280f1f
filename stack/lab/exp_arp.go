package lab

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
)

// expARPQueue: three datagrams to a neighbour whose MAC is not known wait in
// the ARP queue and leave in order once the reply arrives.
var expARPQueue = &Experiment{
	ID:    "arp-queue",
	Title: "ARP resolution with queued datagrams",
	Topic: "ARP",
	Explain: "Before tipy can send an IP datagram to peer on the LAN it needs peer's MAC address. " +
		"The experiment forgets peer's entry, then sends three UDP datagrams at once: the first starts an ARP request " +
		"(a broadcast: who has 192.168.2.20?), and all three wait in a small queue instead of being dropped. " +
		"When peer's reply arrives, the cache entry becomes REACHABLE and the queue is released in the order the datagrams were sent.",
	Look: []Pointer{
		{Page: "frames", Layers: "arp,udp", Text: "the ARP request (broadcast), the reply (unicast), then the three UDP datagrams back to back"},
		{Page: "arp", Host: "tipy", Text: "peer's entry going INCOMPLETE → REACHABLE"},
	},
	Proof: []Proof{
		{Text: "the datagrams wait for the reply", Host: "tipy", Layer: observe.LayerARP, Summary: "datagram queued for " + PeerAddr, Count: 3},
		{Text: "an ARP request asks for peer's MAC", Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindTX, Summary: "who-has " + PeerAddr},
		{Text: "the queue is released in order when the reply arrives", Host: "tipy", Layer: observe.LayerARP, Summary: "releasing 3 queued datagrams to " + PeerAddr},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		peer := netip.MustParseAddr(PeerAddr)
		var err error
		tipy.Call(func() { err = tipy.DeleteARP(peer) })
		if err != nil && !isNoEntry(err) {
			return err
		}
		env.Logf("forgot peer's ARP entry on tipy")
		so, err := tipy.Socket(stack.AF_INET, stack.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer so.Close()
		dst := netip.AddrPortFrom(peer, 9) // discard service
		// Three datagrams in one turn of the loop, so none can leave
		// before the reply: each is queued behind the ARP request.
		tipy.Call(func() {
			now := tipy.Loop().Now()
			for i := 1; i <= 3 && err == nil; i++ {
				_, err = so.SendToNow(now, []byte(fmt.Sprintf("datagram %d", i)), dst)
			}
		})
		if err != nil {
			return err
		}
		env.Logf("sent three UDP datagrams to %s at once", dst)
		return env.Sleep(ctx, defaultSettle)
	},
}
