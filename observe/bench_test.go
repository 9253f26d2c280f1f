package observe

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"runtime"
	"testing"
)

// benchEvent is built the way a publisher builds one: only when Active.
func benchEvent(i int) Event {
	return Event{
		TimeNS:  int64(i),
		Host:    "tipy",
		Layer:   LayerTCP,
		Kind:    KindTX,
		Summary: "segment sent",
		Conn:    "192.168.2.7:80-192.168.2.20:40000",
	}
}

// BenchmarkPublishNoListener is the cost a stack pays per decision when
// nobody watches: the Active test, nothing built.
func BenchmarkPublishNoListener(b *testing.B) {
	bus := NewBus(BusOptions{})
	var sink Sink = bus
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if sink.Active() {
			sink.Publish(benchEvent(i))
		}
	}
	if bus.Stats().Published != 0 {
		b.Fatal("published without a listener")
	}
}

// BenchmarkPublishUnconditional is Publish itself with nobody listening
// (numbering and the ring only).
func BenchmarkPublishUnconditional(b *testing.B) {
	bus := NewBus(BusOptions{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bus.Publish(benchEvent(i))
	}
}

// BenchmarkPublishOneSubscriber publishes to a subscriber that drains on
// another goroutine.
func BenchmarkPublishOneSubscriber(b *testing.B) {
	bus := NewBus(BusOptions{})
	s := bus.Subscribe(Filter{}, 1<<16)
	done := make(chan uint64)
	go func() {
		var n uint64
		for {
			if _, err := s.Next(context.Background()); err != nil {
				done <- n
				return
			}
			n++
		}
	}()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if bus.Active() {
			bus.Publish(benchEvent(i))
		}
	}
	b.StopTimer()
	st := s.Stats()
	s.Close()
	<-done
	b.ReportMetric(float64(st.Missed)/float64(b.N), "missed/op")
}

// BenchmarkPublishStalledSubscriber publishes to a subscriber that never
// reads: after the queue fills, each event is only counted.
func BenchmarkPublishStalledSubscriber(b *testing.B) {
	bus := NewBus(BusOptions{})
	s := bus.Subscribe(Filter{}, 1024)
	defer s.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if bus.Active() {
			bus.Publish(benchEvent(i))
		}
	}
}

// BenchmarkPublishFilteredOut publishes to eight subscribers whose filters
// reject the event, as dashboards watching other hosts do.
func BenchmarkPublishFilteredOut(b *testing.B) {
	bus := NewBus(BusOptions{})
	for range 8 {
		defer bus.Subscribe(Filter{Hosts: []string{"peer"}, Layers: []Layer{LayerARP}}, 64).Close()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if bus.Active() {
			bus.Publish(benchEvent(i))
		}
	}
}

func traceBenchEvent() Event {
	e := benchEvent(0)
	e.Frame = make([]byte, 74)
	e.Fields = map[string]any{"seq": uint32(1), "ack": uint32(2), "win": 65535}
	return e
}

// BenchmarkRecorder measures recording end to end: publish, queue, encode,
// write. The publisher waits for the recorder every 1024 events so that the
// figure is the recorder's throughput, not the speed of filling its queue.
func BenchmarkRecorder(b *testing.B) {
	bus := NewBus(BusOptions{})
	r, err := NewRecorder(bus, io.Discard, TraceHeader{}, Filter{})
	if err != nil {
		b.Fatal(err)
	}
	e := traceBenchEvent()
	b.ReportAllocs()
	var n uint64
	for b.Loop() {
		bus.Publish(e)
		if n++; n%1024 == 0 {
			for r.Count()+r.Missed() < n-1024 {
				runtime.Gosched()
			}
		}
	}
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.Missed()), "missed")
}

// BenchmarkTraceEncode is the cost of encoding and buffering one trace line.
func BenchmarkTraceEncode(b *testing.B) {
	enc := newLineEncoder(bufio.NewWriter(io.Discard))
	e := traceBenchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.event(&e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReader measures reading a trace back.
func BenchmarkReader(b *testing.B) {
	e := traceBenchEvent()
	events := make([]Event, 1000)
	for i := range events {
		events[i] = e
		events[i].Seq = uint64(i + 1)
	}
	var buf bytes.Buffer
	if err := WriteTrace(&buf, TraceHeader{}, events); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		if got, err := r.ReadAll(); err != nil || len(got) != len(events) {
			b.Fatal(len(got), err)
		}
	}
}

// BenchmarkPublishNoListenerConcrete is BenchmarkPublishNoListener for a
// publisher that holds a *Bus rather than a Sink: Active inlines.
func BenchmarkPublishNoListenerConcrete(b *testing.B) {
	bus := NewBus(BusOptions{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if bus.Active() {
			bus.Publish(benchEvent(i))
		}
	}
}
