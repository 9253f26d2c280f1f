package observe_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/tipy/tipy/observe"
)

func ExampleBus_Subscribe() {
	bus := observe.NewBus(observe.BusOptions{})
	fmt.Println("active before:", bus.Active())

	drops := bus.Subscribe(observe.Filter{Kinds: []observe.Kind{observe.KindDrop}}, 2)
	defer drops.Close()
	fmt.Println("active after:", bus.Active())

	// A publisher builds the event only when someone listens.
	for i, kind := range []observe.Kind{observe.KindRX, observe.KindDrop, observe.KindDrop, observe.KindDrop, observe.KindDrop} {
		if bus.Active() {
			bus.Publish(observe.Event{Host: "tipy", Layer: observe.LayerIPv4, Kind: kind,
				Summary: fmt.Sprintf("datagram %d", i), Reason: "bad_checksum"})
		}
	}
	// The queue holds two events; the two that did not fit become one gap.
	for {
		e, ok := drops.TryNext()
		if !ok {
			break
		}
		fmt.Println(e.Seq, e.Kind, e.Summary)
	}
	// Output:
	// active before: false
	// active after: true
	// 2 drop datagram 1
	// 3 drop datagram 2
	// 5 gap missed 2 events: subscriber too slow
}

func ExampleReader() {
	var trace bytes.Buffer
	err := observe.WriteTrace(&trace, observe.TraceHeader{
		Seed:  7,
		Mode:  "lab",
		Hosts: []observe.HostInfo{{Name: "tipy", MAC: "02:00:00:00:00:07", Addresses: []string{"192.168.2.7/24"}, MTU: 1500}},
	}, []observe.Event{
		{Seq: 1, TimeNS: 1000, Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindTX, Summary: "who has 192.168.2.1?"},
		{Seq: 2, TimeNS: 2500, Host: "tipy", Layer: observe.LayerARP, Kind: observe.KindCache, Summary: "192.168.2.1 is at 02:00:00:00:00:01",
			Fields: map[string]any{"entries": 1}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(trace.String())

	r, err := observe.NewReader(&trace)
	if err != nil {
		log.Fatal(err)
	}
	h := r.Header()
	fmt.Println("seed", h.Seed, "mode", h.Mode, "hosts", len(h.Hosts))
	events, err := r.ReadAll()
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		n, _ := observe.FieldUint(&e, "entries")
		fmt.Printf("%d %s %s/%s %s (entries %d)\n", e.Seq, e.Host, e.Layer, e.Kind, e.Summary, n)
	}
	// Output:
	// {"format":"tipy-trace","version":1,"seed":7,"hosts":[{"name":"tipy","mac":"02:00:00:00:00:07","addresses":["192.168.2.7/24"],"mtu":1500}],"mode":"lab"}
	// {"seq":1,"t_ns":1000,"host":"tipy","layer":"arp","kind":"tx","summary":"who has 192.168.2.1?"}
	// {"seq":2,"t_ns":2500,"host":"tipy","layer":"arp","kind":"cache","summary":"192.168.2.1 is at 02:00:00:00:00:01","fields":{"entries":1}}
	// seed 7 mode lab hosts 1
	// 1 tipy arp/tx who has 192.168.2.1? (entries 0)
	// 2 tipy arp/cache 192.168.2.1 is at 02:00:00:00:00:01 (entries 1)
}
