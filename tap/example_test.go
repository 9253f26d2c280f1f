package tap_test

import (
	"fmt"
	"time"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
	"github.com/tipy/tipy/tap"
)

// A virtual switch with an impaired port, driven by hand on a virtual
// clock: host a sends ten frames a millisecond apart; its port delays each by
// 5 ms (plus the switch's 10 µs of propagation) and loses some. The losses come from the switch's seed, so every run
// loses the same frames.
func ExampleSwitch() {
	loop := clock.NewVirtual()
	sw := tap.NewSwitch(loop, "lan", observe.Discard, 1)
	macA, macB := wire.MAC{2, 0, 0, 0, 0, 0xa}, wire.MAC{2, 0, 0, 0, 0, 0xb}
	a := sw.AddPort("a", macA, 1500)
	b := sw.AddPort("b", macB, 1500)
	b.SetHandler(func(frame []byte) {
		fmt.Printf("%v: b receives frame %d\n", loop.Now(), frame[wire.EthernetHeaderLen])
	})

	imp, err := tap.ParseImpairment("delay=5ms,loss=30%")
	if err != nil {
		panic(err)
	}
	// A port's In direction is what its host sends into the switch.
	if err := a.SetImpairment(tap.In, imp); err != nil {
		panic(err)
	}
	for i := range 10 {
		frame := make([]byte, 60)
		eth := wire.EthernetHeader{Dst: macB, Src: macA, Type: 0x88b5} // the IEEE's local experimental EtherType
		eth.Marshal(frame)
		frame[wire.EthernetHeaderLen] = byte(i)
		loop.Schedule(clock.Time(time.Duration(i)*time.Millisecond), func() { a.Send(frame) })
	}
	loop.RunFor(time.Second)
	st := a.Stats()
	fmt.Printf("a sent %d frames, %d lost (%v)\n", st.TxFrames, st.Drops[tap.DropLoss], imp)
	// Output:
	// 0.005010s: b receives frame 0
	// 0.006010s: b receives frame 1
	// 0.007010s: b receives frame 2
	// 0.008010s: b receives frame 3
	// 0.011010s: b receives frame 6
	// 0.012010s: b receives frame 7
	// 0.013010s: b receives frame 8
	// 0.014010s: b receives frame 9
	// a sent 10 frames, 2 lost (loss=30%,delay=5ms)
}
