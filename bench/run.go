package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/tipy/tipy/observe"
)

// system names, in the order of the table's columns.
const (
	sysTipy   = "tipy"
	sysGVisor = "gVisor"
	sysKernel = "kernel"
)

// figures collects the runs of one row per system.
type figures map[string][]float64

// setRow fills x's cells with the medians of f.
func (f figures) setRow(x *row) {
	for sys, c := range map[string]*cell{sysTipy: &x.tipy, sysGVisor: &x.gvisor, sysKernel: &x.kernel} {
		if len(f[sys]) > 0 {
			*c = val(median(f[sys]))
		}
	}
}

// measure runs one measurement of system sys with a timeout, records it
// in f, and turns a failure into a note.
func (r *report) measure(ctx context.Context, f figures, what, sys string, m func(ctx context.Context) (float64, error)) {
	if len(r.cfg.systems) > 0 && !r.cfg.systems[sys] {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	v, err := m(ctx)
	if err != nil {
		if ctx.Err() == nil || !errors.Is(ctx.Err(), context.Canceled) {
			r.note("%s, %s: %v", what, sys, err)
		}
		return
	}
	logf("%s, %s: %.2f", what, sys, v)
	f[sys] = append(f[sys], v)
}

// connMeasure measures something over one connection, given its dialing
// and its accepting end.
type connMeasure func(ctx context.Context, client, server net.Conn) (float64, error)

// overConn opens a listener with listen, connects to it with dial, runs m
// on the connection and closes both ends and the listener.
func overConn(ctx context.Context, listen func() (net.Listener, error), dial func(context.Context) (net.Conn, error), m connMeasure) (float64, error) {
	ln, err := listen()
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	c, s, err := connect(ctx, ln, dial)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	defer s.Close()
	return m(ctx, c, s)
}

// onPair measures m over a connection to port of a fresh pair made by mk.
func onPair(port uint16, mk func() (pair, error), m connMeasure) func(context.Context) (float64, error) {
	return func(ctx context.Context) (float64, error) {
		p, err := mk()
		if err != nil {
			return 0, err
		}
		defer p.Close()
		listen := func() (net.Listener, error) { return p.Listen(port) }
		dial := func(ctx context.Context) (net.Conn, error) { return p.Dial(ctx, port) }
		return overConn(ctx, listen, dial, m)
	}
}

// bulkPair measures one bulk run on a fresh pair made by mk.
func bulkPair(size int64, mk func() (pair, error)) func(context.Context) (float64, error) {
	return onPair(5001, mk, func(ctx context.Context, c, s net.Conn) (float64, error) {
		return bulkOver(ctx, c, s, size)
	})
}

// rrPair measures round trips on a fresh pair made by mk.
func rrPair(n int, mk func() (pair, error)) func(context.Context) (float64, error) {
	return onPair(7, mk, echoTrips(n))
}

// echoTrips measures n round trips from the client to an echo of the
// server's end.
func echoTrips(n int) connMeasure {
	return func(ctx context.Context, c, s net.Conn) (float64, error) {
		go echoStream(s)
		return roundTrips(ctx, c, n)
	}
}

func (r *report) tipyPair(bufs int, bus *observe.Bus) func() (pair, error) {
	return func() (pair, error) { return newTipyPair(r.cfg.tipyLoop == "shared", bufs, bus) }
}

func gvPairMaker(bufs int) func() (pair, error) {
	return func() (pair, error) { return newGVPair(bufs) }
}

// kernelVeth sets up (once) two namespaces joined by veth, the kernel's
// reference for the in-process workloads, or returns nil with a note.
func (r *report) kernelVeth(n byte) *kernelPair {
	if why := canNamespace(); why != "" {
		r.note("kernel column skipped: %s", why)
		return nil
	}
	cl, err := newNS(fmt.Sprintf("kc%d", n))
	if err == nil {
		var sv *netns
		if sv, err = newNS(fmt.Sprintf("ks%d", n)); err == nil {
			var srv *kernelServer
			var note string
			if srv, _, note, err = newVeth(cl, sv, n); err == nil {
				if note != "" {
					r.note("%s", note)
				}
				return &kernelPair{client: kernelClient{cl}, srv: srv}
			}
		}
	}
	r.note("kernel column skipped: %v", err)
	return nil
}

// workload1: TCP bulk between two stacks in one process.
func workload1(ctx context.Context, r *report) {
	kp := r.kernelVeth(82)
	for _, bufs := range []int{0, r.cfg.large} {
		name := "TCP bulk in process, default buffers"
		if bufs > 0 {
			name = fmt.Sprintf("TCP bulk in process, %s buffers", sizeString(int64(bufs)))
		}
		f := figures{}
		for range r.cfg.runs {
			r.measure(ctx, f, name, sysTipy, bulkPair(r.cfg.size, r.tipyPair(bufs, nil)))
			r.measure(ctx, f, name, sysGVisor, bulkPair(r.cfg.size, gvPairMaker(bufs)))
			if kp != nil && bufs == 0 {
				r.measure(ctx, f, name, sysKernel, bulkPair(r.cfg.size, func() (pair, error) { return kp, nil }))
			}
		}
		x := r.add(&row{w: 1, name: name, unit: "MB/s", higher: true, target: ratioAtLeast(2)})
		f.setRow(x)
	}
	if kp != nil {
		r.note("kernel figures of workloads 1 and 2: two namespaces joined by veth (MTU 1500), the kernel's own buffer tuning")
	}
}

// workload2: 64-byte request/response between two stacks in one process.
func workload2(ctx context.Context, r *report) {
	kp := r.kernelVeth(83)
	name := "TCP 64-byte request/response in process"
	f := figures{}
	for range r.cfg.runs {
		r.measure(ctx, f, name, sysTipy, rrPair(r.cfg.rtts, r.tipyPair(0, nil)))
		r.measure(ctx, f, name, sysGVisor, rrPair(r.cfg.rtts, gvPairMaker(0)))
		if kp != nil {
			r.measure(ctx, f, name, sysKernel, rrPair(r.cfg.rtts, func() (pair, error) { return kp, nil }))
		}
	}
	f.setRow(r.add(&row{w: 2, name: name, unit: "µs", target: nil}))
}

// tapServer is a stack (or the kernel) serving the kernel over a device.
type tapServer interface {
	Addr() netip.Addr
	Listen(port uint16) (net.Listener, error)
	ListenPacket(port uint16) (net.PacketConn, error)
	Close()
}

// tapSide is one system of workload 3 with the kernel client facing it.
type tapSide struct {
	sys    string
	srv    tapServer
	kernel kernelClient
}

// workload3: each stack on a TAP device, the kernel as its peer.
func workload3(ctx context.Context, r *report) {
	if why := canNamespace(); why != "" {
		r.note("workload 3 skipped: %s", why)
		return
	}
	var sides []tapSide
	defer func() {
		for _, s := range sides {
			s.srv.Close()
		}
	}()
	// tipy at 10.199.80.2 and gVisor at 10.199.81.2, each behind a TAP
	// device whose kernel side (.1) is in a namespace of its own.
	for i, mk := range []struct {
		sys string
		new func(ns *netns, dev string, kernel, addr netip.Addr) (tapServer, error)
	}{
		{sysTipy, func(ns *netns, dev string, k, a netip.Addr) (tapServer, error) { return newTipyTAP(ns, dev, k, a) }},
		{sysGVisor, func(ns *netns, dev string, k, a netip.Addr) (tapServer, error) { return newGVTAP(ns, dev, k, a) }},
	} {
		ns, err := newNS("tap-" + mk.sys)
		if err != nil {
			r.note("workload 3, %s: %v", mk.sys, err)
			continue
		}
		n := byte(80 + i)
		srv, err := mk.new(ns, "tb"+mk.sys[:1], netip.AddrFrom4([4]byte{10, 199, n, 1}), netip.AddrFrom4([4]byte{10, 199, n, 2}))
		if err != nil {
			r.note("workload 3, %s: %v", mk.sys, err)
			continue
		}
		sides = append(sides, tapSide{sys: mk.sys, srv: srv, kernel: kernelClient{ns}})
	}
	if kp := r.kernelVeth(84); kp != nil {
		sides = append(sides, tapSide{sys: sysKernel, srv: kp.srv, kernel: kp.client})
		r.note("kernel figures of workload 3: the kernel on both ends of a veth pair between two namespaces")
	}

	type test struct {
		name   string
		unit   string
		higher bool
		target *target
		run    func(ctx context.Context, s tapSide) (float64, error)
	}
	tests := []test{
		{"TAP: kernel → stack TCP bulk", "MB/s", true, ratioAtLeast(1.5), func(ctx context.Context, s tapSide) (float64, error) {
			return tapBulk(ctx, s, r.cfg.size, true)
		}},
		{"TAP: stack → kernel TCP bulk", "MB/s", true, ratioAtLeast(1.5), func(ctx context.Context, s tapSide) (float64, error) {
			return tapBulk(ctx, s, r.cfg.size, false)
		}},
		{"TAP: TCP 64-byte echo round trip", "µs", false, ratioAtMost(0.8), func(ctx context.Context, s tapSide) (float64, error) {
			return tapTCPEcho(ctx, s, r.cfg.rtts)
		}},
		{"TAP: UDP 64-byte echo round trip", "µs", false, ratioAtMost(0.8), func(ctx context.Context, s tapSide) (float64, error) {
			return tapUDPEcho(ctx, s, r.cfg.rtts)
		}},
		{"TAP: ping (64 bytes of data)", "µs", false, nil, func(ctx context.Context, s tapSide) (float64, error) {
			return s.kernel.ping(ctx, s.srv.Addr(), min(r.cfg.rtts, 5000))
		}},
	}
	for _, t := range tests {
		f := figures{}
		for range r.cfg.runs {
			for _, s := range sides {
				r.measure(ctx, f, t.name, s.sys, func(ctx context.Context) (float64, error) { return t.run(ctx, s) })
			}
		}
		f.setRow(r.add(&row{w: 3, name: t.name, unit: t.unit, higher: t.higher, target: t.target}))
	}
}

var nextPort uint16 = 6000

// port returns a fresh port, so that no run waits for the TIME-WAIT of
// an earlier one.
func port() uint16 { nextPort++; return nextPort }

// onTAP measures m over a connection the kernel (the client) opens to the
// stack of s, on a fresh port.
func onTAP(ctx context.Context, s tapSide, m connMeasure) (float64, error) {
	p := port()
	listen := func() (net.Listener, error) { return s.srv.Listen(p) }
	dial := func(context.Context) (net.Conn, error) { return s.kernel.dialTCP(netip.AddrPortFrom(s.srv.Addr(), p)) }
	return overConn(ctx, listen, dial, m)
}

// tapBulk moves size bytes over a connection the kernel opens to the
// stack, from the kernel when toStack, else from the stack.
func tapBulk(ctx context.Context, s tapSide, size int64, toStack bool) (float64, error) {
	return onTAP(ctx, s, func(ctx context.Context, kc, sc net.Conn) (float64, error) {
		if toStack {
			return bulkOver(ctx, kc, sc, size)
		}
		return bulkOver(ctx, sc, kc, size)
	})
}

func tapTCPEcho(ctx context.Context, s tapSide, n int) (float64, error) {
	return onTAP(ctx, s, echoTrips(n))
}

func tapUDPEcho(ctx context.Context, s tapSide, n int) (float64, error) {
	p := port()
	pc, err := s.srv.ListenPacket(p)
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	go echoPackets(pc)
	kc, err := s.kernel.dialUDP(netip.AddrPortFrom(s.srv.Addr(), p))
	if err != nil {
		return 0, err
	}
	defer kc.Close()
	return datagramTrips(ctx, kc, n)
}

// workload4: heap per idle established connection.
func workload4(ctx context.Context, r *report) {
	name := fmt.Sprintf("heap per idle connection end (%d connections)", r.cfg.conns)
	f := figures{}
	for sys, mk := range map[string]func() (pair, error){sysTipy: r.tipyPair(0, nil), sysGVisor: gvPairMaker(0)} {
		r.measure(ctx, f, name, sys, func(ctx context.Context) (float64, error) {
			p, err := mk()
			if err != nil {
				return 0, err
			}
			defer p.Close()
			b, err := idleConnMemory(ctx, p, 5002, r.cfg.conns)
			return b / 1024, err
		})
	}
	f.setRow(r.add(&row{w: 4, name: name, unit: "KiB", target: atMost(8, "KiB")}))
	r.note("workload 4 counts the growth of the Go heap with both ends of every connection in the process, halved; the kernel's socket memory is not on it")
}

// observer is a way of watching tipy during workload 5.
type observer struct {
	name  string
	start func(ctx context.Context, bus *observe.Bus, p *tipyPair) (stop func(), err error)
}

// workload5: workload 1 (default buffers) under observation.
func workload5(ctx context.Context, r *report) {
	const base = "observed bulk: nobody listening"
	observers := []observer{
		{base, func(context.Context, *observe.Bus, *tipyPair) (func(), error) { return func() {}, nil }},
		{"observed bulk: dashboard event stream", dashboardStream},
		{"observed bulk: recording a trace", recording},
	}
	figs := make([]figures, len(observers))
	for i := range figs {
		figs[i] = figures{}
	}
	for range r.cfg.runs {
		for i, o := range observers {
			r.measure(ctx, figs[i], o.name, sysTipy, func(ctx context.Context) (float64, error) {
				bus := observe.NewBus(observe.BusOptions{})
				p, err := newTipyPair(r.cfg.tipyLoop == "shared", 0, bus)
				if err != nil {
					return 0, err
				}
				stop, err := o.start(ctx, bus, p)
				if err != nil {
					p.Close()
					return 0, err
				}
				defer stop()
				return bulkPair(r.cfg.size, func() (pair, error) { return p, nil })(ctx)
			})
		}
	}
	for i, o := range observers {
		var t *target
		if i == 1 {
			t = fractionOf(0.8, base)
		}
		figs[i].setRow(r.add(&row{w: 5, name: o.name, unit: "MB/s", higher: true, target: t}))
	}
}

// recording writes a trace of every event to a temporary file.
func recording(_ context.Context, bus *observe.Bus, p *tipyPair) (func(), error) {
	f, err := os.CreateTemp("", "tipybench-*.trace")
	if err != nil {
		return nil, err
	}
	rec, err := observe.NewRecorder(bus, f, observe.TraceHeader{}, observe.Filter{})
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return func() {
		rec.Close()
		if st, err := f.Stat(); err == nil {
			logf("recording: %d bytes", st.Size())
		}
		f.Close()
		os.Remove(f.Name())
	}, nil
}
