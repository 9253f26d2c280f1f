package lab

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
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
		if err := forgetARP(tipy, peerIP); err != nil {
			return err
		}
		env.Logf("forgot peer's ARP entry on tipy")
		so, err := socket(tipy, stack.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer so.Close()
		dst := netip.AddrPortFrom(peerIP, 9) // discard service
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

// expARPRetry: a datagram to an address nobody has. ARP asks Retries times,
// then gives up: the datagram is dropped and its sender told EHOSTUNREACH.
var expARPRetry = &Experiment{
	ID:    "arp-retry",
	Title: "ARP retries to a missing host",
	Topic: "ARP",
	Explain: "tipy sends a UDP datagram to " + UnusedAddr + ", an address of the LAN that no host has. " +
		"The datagram waits while ARP broadcasts who-has " + UnusedAddr + "; nobody answers, so tipy asks again after a second, three requests in all (RFC 1122 §2.3.2.1). " +
		"After the last one the cache entry becomes FAILED, the waiting datagram is dropped and the socket gets EHOSTUNREACH, \"no route to host\". " +
		"For a while after that a new datagram to the same address fails at once, without asking again, so that a dead host does not cost a flood of requests.",
	Look: []Pointer{
		{Page: "frames", Host: "tipy", Layers: "arp", Text: "three broadcast requests for " + UnusedAddr + ", one second apart, and no reply"},
		{Page: "arp", Host: "tipy", Text: "the entry for " + UnusedAddr + " going INCOMPLETE → FAILED, with its retry count"},
		{Page: "sockets", Host: "tipy", Text: "the UDP socket whose receive call returns EHOSTUNREACH"},
	},
	Proof: []Proof{
		{Text: "tipy broadcasts an ARP request for the missing host, three times", Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindTX, Summary: "who-has " + UnusedAddr, Count: 3},
		{Text: "each request goes unanswered until its retry timer fires", Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindTimer, Summary: "ARP retry timer for " + UnusedAddr + " fired", Count: 3},
		{Text: "after the last try the entry is marked failed", Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindCache, Summary: "cache " + UnusedAddr + ": incomplete → failed"},
		{Text: "the datagram that waited is dropped (its sender gets EHOSTUNREACH)", Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindDrop, Reason: "arp-unresolved", Summary: "(no ARP reply from " + UnusedAddr + " after 3 requests)"},
		{Text: "while the entry is failed, a new datagram fails at once", Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindDrop, Reason: "arp-unresolved", Summary: "asking again in"},
	},
	Run: func(ctx context.Context, env *Env) error {
		tipy := env.Tipy()
		if err := forgetARP(tipy, unusedIP); err != nil {
			return err
		}
		defer forgetARP(tipy, unusedIP)
		so, err := socket(tipy, stack.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer so.Close()
		var cfg stack.ARPConfig
		tipy.Call(func() { cfg = tipy.ARPSettings() })
		dst := netip.AddrPortFrom(unusedIP, 9)
		// The second datagram leaves on the loop, half a retry interval
		// after the last request timed out, whatever the experiment's own
		// goroutine is doing then: the entry is failed at that lab time.
		var err1, errRecv, err2 error
		sent2 := make(chan struct{})
		tipy.Call(func() {
			loop := tipy.Loop()
			now := loop.Now()
			if _, err1 = so.SendToNow(now, []byte("is anybody there?"), dst); err1 != nil {
				close(sent2)
				return
			}
			loop.Schedule(now.Add(time.Duration(cfg.Retries)*cfg.RetryInterval+cfg.RetryInterval/2), func() {
				_, _, errRecv = so.RecvFromNow(loop.Now(), 100) // the error of the first datagram
				_, err2 = so.SendToNow(loop.Now(), []byte("still there?"), dst)
				close(sent2)
			})
		})
		if err1 != nil {
			return fmt.Errorf("first datagram: %w", err1)
		}
		env.Logf("sent a UDP datagram to %s: it waits for ARP (%d requests, %v apart)", dst, cfg.Retries, cfg.RetryInterval)
		select {
		case <-sent2:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := wantErrno(errRecv, stack.EHOSTUNREACH); err != nil {
			return fmt.Errorf("receive after the failed resolution: %w", err)
		}
		env.Logf("the socket reports the lost datagram: %v", errRecv)
		err = err2
		if err := wantErrno(err, stack.EHOSTUNREACH); err != nil {
			return fmt.Errorf("second datagram: %w", err)
		}
		env.Logf("a second datagram fails at once while the entry is failed: %v", err)
		if err := forgetARP(tipy, unusedIP); err != nil {
			return err
		}
		env.Logf("deleted the failed entry")
		return env.Sleep(ctx, defaultSettle)
	},
}

// expARPProbeConflict: peer probes, as RFC 5227 asks before taking an
// address, first a free address, then tipy's, which tipy defends.
var expARPProbeConflict = &Experiment{
	ID:    "arp-probe-conflict",
	Title: "ARP probe finding a conflict",
	Topic: "ARP",
	Explain: "Before a host takes an IPv4 address (its configured one, or one a DHCP server offered) it checks that no other host has it: RFC 5227 address conflict detection. " +
		"It broadcasts ARP probes, requests for the address whose sender IP is 0.0.0.0 so that no cache learns anything, up to three of them one or two seconds apart. " +
		"Here peer first probes " + UnusedAddr + ": nobody answers, so that address is free. " +
		"Then peer probes " + TipyAddr + ", tipy's address: tipy answers the probe like any request for its address, and that reply is the conflict, so peer must not take the address.",
	Look: []Pointer{
		{Page: "frames", Layers: "arp", Text: "peer's probes (sender 0.0.0.0), unanswered for " + UnusedAddr + ", then tipy's reply to the probe for " + TipyAddr},
		{Page: "overview", Host: "peer", Text: "the conflict event: " + TipyAddr + " is in use by tipy's MAC"},
	},
	Proof: []Proof{
		{Text: "peer probes for the free address and nobody answers", Host: "peer", Layer: observe.LayerARP, Kind: observe.KindState, Summary: "probe of " + UnusedAddr + ": no host answered"},
		{Text: "peer sends an ARP probe for tipy's address", Host: "peer", Layer: observe.LayerARP, Kind: observe.KindTX, Summary: "sent ARP probe 1 of 3 for " + TipyAddr},
		{Text: "tipy answers the probe: the address is taken", Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindTX, Summary: "Reply " + TipyAddr + " is-at", Field: "tpa", FieldValue: "0.0.0.0"},
		{Text: "peer detects the conflict and does not take the address", Host: "peer", Layer: observe.LayerARP, Kind: observe.KindError, Summary: "address conflict: " + TipyAddr + " is in use by"},
	},
	Run: func(ctx context.Context, env *Env) error {
		peer, tipy := env.Host("peer"), env.Tipy()
		r, err := peer.ProbeAddress(ctx, unusedIP)
		if err != nil {
			return err
		}
		if r.InUse {
			return fmt.Errorf("%s is in use by %s: it should be free", unusedIP, r.By)
		}
		env.Logf("peer probed %s %d times: no answer, the address is free", unusedIP, r.Probes)
		r, err = peer.ProbeAddress(ctx, tipyIP)
		if err != nil {
			return err
		}
		var mac wire.MAC
		tipy.Call(func() { mac = tipy.Iface().MAC() })
		if !r.InUse || r.By != mac {
			return fmt.Errorf("probe of %s: in use %v by %s; want in use by tipy (%s)", tipyIP, r.InUse, r.By, mac)
		}
		env.Logf("peer probed %s: after %d probe(s) tipy (%s) answered, so the address is in use", tipyIP, r.Probes, r.By)
		return env.Sleep(ctx, defaultSettle)
	},
}

// expGratuitousARP: tipy announces its address; peer, which knows tipy,
// refreshes its entry.
var expGratuitousARP = &Experiment{
	ID:    "gratuitous-arp",
	Title: "Gratuitous ARP updates a neighbour's cache",
	Topic: "ARP",
	Explain: "A gratuitous ARP is a request a host sends about its own address: sender and target IP are both " + TipyAddr + ", broadcast to everyone (RFC 5227 §3). " +
		"Nobody answers it; its point is that every host that already has an entry for " + TipyAddr + " updates it with the sender's MAC (RFC 826's merge), which is how neighbours learn at once that an address moved to a new network card. " +
		"The experiment makes sure peer has an entry for tipy (a ping if needed), then tipy announces itself. " +
		"peer's entry is refreshed; a host without an entry ignores the announcement, as Linux does by default, so announcements cannot fill caches.",
	Look: []Pointer{
		{Page: "frames", Layers: "arp", Text: "one broadcast request from tipy: who-has " + TipyAddr + " tell " + TipyAddr + ", and no reply"},
		{Page: "arp", Host: "peer", Text: "the entry for " + TipyAddr + " confirmed again: its age restarts from zero"},
	},
	Proof: []Proof{
		{Text: "tipy broadcasts a gratuitous ARP for its own address", Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindTX, Summary: "sent gratuitous ARP: " + TipyAddr + " is at"},
		{Text: "peer receives it: sender and target are both tipy's address", Host: "peer", Layer: observe.LayerARP, Kind: observe.KindRX, Summary: "who-has " + TipyAddr + " tell " + TipyAddr},
		{Text: "peer's cache entry for tipy is updated from it", Host: "peer", Layer: observe.LayerARP, Kind: observe.KindCache, Summary: "cache " + TipyAddr + ":", Field: "gratuitous", FieldValue: "true"},
	},
	Run: func(ctx context.Context, env *Env) error {
		peer, tipy := env.Host("peer"), env.Tipy()
		if e, ok := arpEntryNow(peer, tipyIP); !ok || (e.State != stack.ARPReachable && e.State != stack.ARPStale) {
			res, err := peer.Ping(ctx, tipyIP, stack.PingOptions{Count: 1})
			if err != nil {
				return err
			}
			if res.Received != 1 {
				return fmt.Errorf("peer could not ping tipy to learn its MAC: %+v", res)
			}
			env.Logf("peer pinged tipy, so that it has an entry for %s", tipyIP)
		}
		if e, ok := arpEntryNow(peer, tipyIP); ok {
			env.Logf("peer's entry for %s: %s at %s, %v old", tipyIP, e.State, e.MAC, e.Age.Round(time.Millisecond))
		}
		if err := env.Sleep(ctx, time.Second); err != nil {
			return err
		}
		var mac wire.MAC
		var sent clock.Time
		var err error
		tipy.Call(func() {
			mac, sent = tipy.Iface().MAC(), tipy.Loop().Now()
			err = tipy.Iface().Announce(sent)
		})
		if err != nil {
			return err
		}
		env.Logf("tipy sent a gratuitous ARP")
		// Look at peer's entry on the loop one second of lab time later
		// (the whole lab shares one loop, so peer's state may be read there).
		var since time.Duration
		var e stack.ARPEntry
		ok := false
		if err := env.After(ctx, time.Second, func() {
			since = peer.Loop().Now().Sub(sent)
			e, ok = arpEntry(peer, tipyIP)
		}); err != nil {
			return err
		}
		if !ok || e.State != stack.ARPReachable || e.MAC != mac || e.Age > since {
			return fmt.Errorf("peer's entry for %s after the announcement: %+v (found %v); want reachable at %s, confirmed in the last %v", tipyIP, e, ok, mac, since)
		}
		env.Logf("peer's entry for %s: %s at %s, confirmed %v ago", tipyIP, e.State, e.MAC, e.Age.Round(time.Millisecond))
		return env.Sleep(ctx, defaultSettle)
	},
}
