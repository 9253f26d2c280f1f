package observe_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/tipy/tipy/observe"
)

// Record what a bus carries to a trace file, keeping only the drops, then
// read the trace back.
func ExampleRecorder() {
	bus := observe.NewBus(observe.BusOptions{})
	var file bytes.Buffer
	rec, err := observe.NewRecorder(bus, &file, observe.TraceHeader{Seed: 1, Mode: "lab"},
		observe.Filter{Kinds: []observe.Kind{observe.KindDrop}})
	if err != nil {
		log.Fatal(err)
	}
	bus.Publish(observe.Event{TimeNS: 10, Host: "tipy", Layer: observe.LayerIPv4, Kind: observe.KindRX, Summary: "datagram from 192.168.2.20"})
	bus.Publish(observe.Event{TimeNS: 20, Host: "tipy", Layer: observe.LayerUDP, Kind: observe.KindDrop,
		Summary: "no socket on port 9", Reason: "udp-no-socket", RFC: "RFC 1122 §4.1.3.1"})
	if err := rec.Close(); err != nil { // writes what is pending
		log.Fatal(err)
	}
	fmt.Println("recorded", rec.Count(), "event")

	r, err := observe.NewReader(&file)
	if err != nil {
		log.Fatal(err)
	}
	events, err := r.ReadAll()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("trace of a", r.Header().Mode, "with seed", r.Header().Seed)
	for _, e := range events {
		fmt.Printf("%d %s %s/%s %s [%s, %s]\n", e.TimeNS, e.Host, e.Layer, e.Kind, e.Summary, e.Reason, e.RFC)
	}
	// Output:
	// recorded 1 event
	// trace of a lab with seed 1
	// 20 tipy udp/drop no socket on port 9 [udp-no-socket, RFC 1122 §4.1.3.1]
}
