//go:build linux

package tap

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/songgao/water"
	"golang.org/x/sys/unix"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// Ethernet framing sizes the TAP checks frames against (IEEE 802.3, no FCS).
const (
	// ethHeaderLen (14: destination MAC, source MAC, EtherType) is shared with switch.go.
	vlanTagLen = 4 // an 802.1Q tag between the source MAC and the EtherType

	// rxBuffers is how many frames the reader may have read ahead of the
	// loop. Each buffer holds the largest frame of the device's MTU (with
	// a VLAN tag); the kernel refuses to hand a frame to a read too small
	// for it (the frame is lost), and never sends one larger than the MTU
	// it was given.
	rxBuffers = 64
	// txBuffers is how many frames Send may queue for the writer before
	// it waits for one to be written.
	txBuffers = 64

	// ifNameMax is the longest interface name Linux accepts (IFNAMSIZ-1).
	ifNameMax = unix.IFNAMSIZ - 1

	tunPath = "/dev/net/tun"
)

// TAPConfig says how to open a TAP device.
type TAPConfig struct {
	// MAC is the stack's own hardware address: tipy is a host behind the
	// TAP, and the kernel's side of the device has a MAC of its own.
	MAC wire.MAC
	// MTU is the link MTU (the largest IP datagram); 0 means 1500. When it
	// differs from the device's MTU, the device's MTU is set to it so that
	// the kernel never sends tipy a larger frame.
	MTU int
	// Up brings the interface up (IFF_UP) once it is open.
	Up bool
	// Sink, when set, receives the device's own events: frames Send
	// refused and read errors. Received and sent frames are the stack's
	// events, not the device's.
	Sink observe.Sink
}

// TAPStats counts what crossed a TAP device.
type TAPStats struct {
	RxFrames  uint64 // frames read and handed to the handler
	RxBytes   uint64 // bytes of those frames
	RxDropped uint64 // frames read while no handler was set
	RxErrors  uint64 // failed reads
	TxFrames  uint64 // frames written to the device
	TxBytes   uint64 // bytes of those frames
	TxDropped uint64 // frames Send refused (too short, too long, link closed)
	TxErrors  uint64 // failed writes
}

// TAP is a [Link] on a Linux TAP device. One reader goroutine reads frames
// from the device into a small set of buffers and queues them; the loop
// hands every queued frame to the handler in one turn, so the stack sees
// frames on its owner, in order, while the reader already reads the next
// ones (a read and the stack's work on the frame before overlap). When all
// buffers wait for the loop, the reader waits too. Sending is the mirror
// image: Send copies the frame into a queue that a writer goroutine
// writes to the device, so that the kernel's work on a frame (a TAP write
// runs the kernel's receive path) overlaps the stack's next steps.
type TAP struct {
	name string
	mac  wire.MAC
	mtu  int
	loop clock.Loop
	sink observe.Sink
	dev  *water.Interface

	handler atomic.Pointer[Handler]
	closed  atomic.Bool
	once    sync.Once
	done    chan struct{} // closed when the reader has returned

	// Frames read and not yet delivered. The reader takes a buffer from
	// rxFree (or makes one, up to rxBuffers), reads into it and appends it
	// to rxQueue, arming rxTimer when the queue was idle; deliverRX, on the
	// loop, takes the whole queue and gives the buffers back.
	rxMu      sync.Mutex
	rxQueue   [][]byte
	rxSpare   [][]byte // the other slice of the double buffer
	rxFree    [][]byte
	rxMade    int
	rxArmed   bool
	rxTimer   *clock.Timer
	rxRoom    chan struct{} // capacity 1: a buffer came back
	stop      chan struct{} // closed by Close
	frameSize int           // the largest frame the MTU allows, with a VLAN tag

	// Frames Send queued for the writer, which writes them in order.
	txMu     sync.Mutex
	txQueue  [][]byte
	txSpare  [][]byte
	txFree   [][]byte
	txMade   int
	txClosed bool          // Close has begun: Send queues nothing more
	txWake   chan struct{} // capacity 1: the queue was empty and is not
	txRoom   chan struct{} // capacity 1: the writer freed buffers
	txErr    atomic.Pointer[error]
	wdone    chan struct{} // closed when the writer has returned

	rxFrames, rxBytes, rxDropped, rxErrors atomic.Uint64
	txFrames, txBytes, txDropped, txErrors atomic.Uint64
}

// OpenTAP opens the TAP device name, creating it when it does not exist (not
// persistent: it goes away when tipy closes it; a persistent device made
// beforehand, e.g. with "ip tuntap add NAME mode tap", stays), and
// starts delivering its frames on loop. An empty name lets the kernel choose
// one ("tap0"); [TAP.Name] returns it. Opening needs root or CAP_NET_ADMIN;
// the error says what to do when they are missing.
//
// The device is created in the network namespace of the calling thread.
func OpenTAP(name string, loop clock.Loop, cfg TAPConfig) (*TAP, error) {
	if len(name) > ifNameMax {
		return nil, fmt.Errorf("open TAP %s: name is %d bytes, Linux allows at most %d", name, len(name), ifNameMax)
	}
	if loop == nil {
		return nil, fmt.Errorf("open TAP %s: no loop to deliver frames on", name)
	}
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = 1500
	}
	if mtu < 68 || mtu > 65535 {
		// 68 is the smallest MTU IPv4 allows (RFC 791).
		return nil, fmt.Errorf("open TAP %s: MTU %d is outside 68..65535", name, mtu)
	}
	// A TAP that exists before we open it is persistent: a non-persistent
	// one vanishes with its last user, and attaching to one in use fails
	// with EBUSY. water clears the persist flag when it opens a device, so
	// it is set again below: a device someone made with "ip tuntap add"
	// outlives tipy, one tipy made does not.
	existed := name != "" && interfaceExists(name)
	dev, err := water.New(water.Config{
		DeviceType:             water.TAP,
		PlatformSpecificParams: water.PlatformSpecificParams{Name: name},
	})
	if err != nil {
		return nil, openError(name, err)
	}
	if existed {
		if err := setPersist(dev); err != nil {
			dev.Close()
			return nil, fmt.Errorf("open TAP %s: keep the existing device persistent: %w", name, err)
		}
	}
	t := &TAP{
		name: dev.Name(),
		mac:  cfg.MAC,
		mtu:  mtu,
		loop: loop,
		sink: cfg.Sink,
		dev:  dev,
		done: make(chan struct{}),
	}
	if t.sink == nil {
		t.sink = observe.Discard
	}
	t.rxTimer = loop.NewTimer(t.deliverRX)
	t.rxRoom = make(chan struct{}, 1)
	t.stop = make(chan struct{})
	t.frameSize = mtu + ethHeaderLen + vlanTagLen
	t.txWake = make(chan struct{}, 1)
	t.txRoom = make(chan struct{}, 1)
	t.wdone = make(chan struct{})
	if err := configureInterface(t.name, mtu, cfg.Up); err != nil {
		dev.Close()
		return nil, fmt.Errorf("open TAP %s: %w", t.name, err)
	}
	go t.read()
	go t.write()
	return t, nil
}

// openError turns a failure to open the device into a message a person can
// act on. It wraps the errno, so errors.Is(err, fs.ErrPermission) and
// errors.Is(err, syscall.EPERM) work.
func openError(name string, err error) error {
	if name == "" {
		name = "(any name)"
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("open TAP %s: %w", name, err)
	}
	// water opens /dev/net/tun (a bare errno on failure) and then asks for
	// the device with an ioctl (an *os.SyscallError).
	var sc *os.SyscallError
	atIoctl := errors.As(err, &sc) && sc.Syscall == "ioctl"
	switch {
	case errno == syscall.EPERM:
		return fmt.Errorf("open TAP %s: %w (run as root or grant CAP_NET_ADMIN)", name, errno)
	case errno == syscall.EACCES && !atIoctl:
		return fmt.Errorf("open TAP %s: %w on %s (run as root, or grant CAP_NET_ADMIN and read-write access to %s)",
			name, errno, tunPath, tunPath)
	case errno == syscall.ENOENT && !atIoctl:
		return fmt.Errorf("open TAP %s: %s does not exist: %w (load the tun module with 'modprobe tun'; in a container, pass the device in, e.g. --device /dev/net/tun)",
			name, tunPath, errno)
	case errno == syscall.ENODEV || errno == syscall.ENXIO:
		return fmt.Errorf("open TAP %s: %w: the kernel has no TUN/TAP driver (load it with 'modprobe tun')", name, errno)
	case errno == syscall.EBUSY:
		return fmt.Errorf("open TAP %s: %w (another program holds it open, or an interface by that name exists and is not a TAP device)", name, errno)
	case errno == syscall.EINVAL && atIoctl:
		return fmt.Errorf("open TAP %s: %w (an interface by that name exists and is not a TAP device, or the name is not valid)", name, errno)
	}
	return fmt.Errorf("open TAP %s: %w", name, err)
}

// interfaceExists reports whether the calling thread's network namespace
// has an interface called name.
func interfaceExists(name string) bool {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return false
	}
	return unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr) == nil
}

// setPersist sets the persist flag of the device behind dev (TUNSETPERSIST).
func setPersist(dev *water.Interface) error {
	f, ok := dev.ReadWriteCloser.(*os.File)
	if !ok {
		return fmt.Errorf("water gave a %T, not a file", dev.ReadWriteCloser)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetInt(int(fd), unix.TUNSETPERSIST, 1)
	}); err != nil {
		return err
	}
	return os.NewSyscallError("ioctl TUNSETPERSIST", ierr)
}

// configureInterface sets the MTU and brings the interface up, with ioctls on
// a socket of the calling thread's network namespace (no external commands).
func configureInterface(name string, mtu int, up bool) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for interface ioctls: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFMTU, ifr); err != nil {
		return fmt.Errorf("read MTU: %w", os.NewSyscallError("ioctl SIOCGIFMTU", err))
	}
	if int(ifr.Uint32()) != mtu {
		ifr.SetUint32(uint32(mtu))
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFMTU, ifr); err != nil {
			return fmt.Errorf("set MTU %d: %w", mtu, os.NewSyscallError("ioctl SIOCSIFMTU", err))
		}
	}
	if !up {
		return nil
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("read flags: %w", os.NewSyscallError("ioctl SIOCGIFFLAGS", err))
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up: %w", os.NewSyscallError("ioctl SIOCSIFFLAGS", err))
	}
	return nil
}

// Name returns the interface name, e.g. "tap7".
func (t *TAP) Name() string { return t.name }

// MTU returns the link MTU.
func (t *TAP) MTU() int { return t.mtu }

// MAC returns the stack's own MAC, from the config.
func (t *TAP) MAC() wire.MAC { return t.mac }

// SetHandler sets the function that receives frames; nil stops delivery
// (frames read meanwhile are counted as RxDropped). It may be called from any
// goroutine; it takes effect for the next frame.
func (t *TAP) SetHandler(h Handler) {
	if h == nil {
		t.handler.Store(nil)
		return
	}
	t.handler.Store(&h)
}

// Send queues one Ethernet frame (no FCS) for the writer, which writes it
// to the device. It refuses frames shorter than an Ethernet header
// (wire.ErrTruncated), longer than the MTU allows (wire.ErrMalformed) and
// any frame after Close (net.ErrClosed) or once the device is gone. A
// failed write is counted (TxErrors) and returned by the next Send. Send
// waits only while the writer has txBuffers frames still to write.
func (t *TAP) Send(frame []byte) error {
	if t.closed.Load() {
		return t.refuse(frame, "link-closed", fmt.Errorf("TAP %s: send: %w", t.name, net.ErrClosed))
	}
	if len(frame) < ethHeaderLen {
		return t.refuse(frame, "frame-too-short", fmt.Errorf("TAP %s: send: frame of %d bytes is shorter than the %d-byte Ethernet header: %w",
			t.name, len(frame), ethHeaderLen, wire.ErrTruncated))
	}
	limit := t.mtu + ethHeaderLen
	if frame[12] == 0x81 && frame[13] == 0x00 { // 802.1Q tag (EtherType 0x8100)
		limit += vlanTagLen
	}
	if len(frame) > limit {
		return t.refuse(frame, "frame-too-long", fmt.Errorf("TAP %s: send: frame of %d bytes exceeds %d (MTU %d plus Ethernet header): %w",
			t.name, len(frame), limit, t.mtu, wire.ErrMalformed))
	}
	if perr := t.txErr.Swap(nil); perr != nil {
		return fmt.Errorf("TAP %s: an earlier write failed: %w", t.name, *perr)
	}
	select {
	case <-t.done: // the reader stopped: the device is gone
		t.txErrors.Add(1)
		return fmt.Errorf("TAP %s: write: the device is gone: %w", t.name, net.ErrClosed)
	default:
	}
	buf := t.txBuffer()
	if buf == nil {
		return t.refuse(frame, "link-closed", fmt.Errorf("TAP %s: send: %w", t.name, net.ErrClosed))
	}
	buf = append(buf[:0], frame...)
	t.txMu.Lock()
	if t.txClosed {
		t.txFree = append(t.txFree, buf)
		t.txMu.Unlock()
		return t.refuse(frame, "link-closed", fmt.Errorf("TAP %s: send: %w", t.name, net.ErrClosed))
	}
	wake := len(t.txQueue) == 0
	t.txQueue = append(t.txQueue, buf)
	t.txMu.Unlock()
	if wake {
		select {
		case t.txWake <- struct{}{}:
		default:
		}
	}
	return nil
}

// txBuffer returns a buffer for a frame to send, waiting while txBuffers
// frames wait for the writer; nil once the device is closed.
func (t *TAP) txBuffer() []byte {
	for {
		t.txMu.Lock()
		if k := len(t.txFree); k > 0 {
			b := t.txFree[k-1]
			t.txFree = t.txFree[:k-1]
			t.txMu.Unlock()
			return b
		}
		if t.txMade < txBuffers {
			t.txMade++
			t.txMu.Unlock()
			return make([]byte, 0, t.frameSize)
		}
		t.txMu.Unlock()
		select {
		case <-t.txRoom:
		case <-t.wdone:
			return nil
		}
	}
}

// write is the writer goroutine: it writes queued frames to the device,
// in order, until Close, writing what was queued before Close first.
func (t *TAP) write() {
	defer close(t.wdone)
	for {
		select {
		case <-t.txWake:
			t.flushTX()
		case <-t.stop:
			t.flushTX()
			return
		}
	}
}

// flushTX writes every queued frame and gives the buffers back.
func (t *TAP) flushTX() {
	t.txMu.Lock()
	frames := t.txQueue
	t.txQueue, t.txSpare = t.txSpare[:0], nil
	t.txMu.Unlock()
	for _, f := range frames {
		n, err := t.dev.Write(f)
		if err != nil {
			t.txErrors.Add(1)
			if errors.Is(err, fs.ErrClosed) {
				err = net.ErrClosed
			}
			t.txErr.CompareAndSwap(nil, &err)
			continue
		}
		t.txFrames.Add(1)
		t.txBytes.Add(uint64(n))
	}
	t.txMu.Lock()
	t.txFree = append(t.txFree, frames...)
	clear(frames)
	t.txSpare = frames[:0]
	t.txMu.Unlock()
	select {
	case t.txRoom <- struct{}{}:
	default:
	}
}

// refuse counts a frame Send did not write and reports it to the sink.
func (t *TAP) refuse(frame []byte, reason string, err error) error {
	t.txDropped.Add(1)
	if t.sink.Active() {
		t.sink.Publish(observe.Event{
			TimeNS:  int64(t.loop.Now()),
			Host:    t.name,
			Layer:   observe.LayerLink,
			Kind:    observe.KindDrop,
			Summary: fmt.Sprintf("TAP %s refused a %d-byte frame: %s", t.name, len(frame), reason),
			Explain: "The device carries whole Ethernet frames: a 14-byte header (destination, source, EtherType) and at most MTU bytes after it; a closed device takes nothing.",
			RFC:     "RFC 894",
			Reason:  reason,
			Fields:  map[string]any{"len": len(frame), "mtu": t.mtu},
			Frame:   append([]byte(nil), frame...),
		})
	}
	return err
}

// read is the reader goroutine: it reads frames into free buffers and
// queues them for the loop until the device is closed or gone.
func (t *TAP) read() {
	defer close(t.done)
	for {
		buf := t.rxBuffer()
		if buf == nil {
			return // closed while waiting for a buffer
		}
		n, err := t.dev.Read(buf)
		if err != nil {
			t.rxRecycle(buf)
			if t.closed.Load() || errors.Is(err, fs.ErrClosed) {
				return
			}
			t.rxErrors.Add(1)
			fatal := !errors.Is(err, syscall.EFAULT) && !errors.Is(err, syscall.EINVAL)
			t.reportReadError(err, fatal)
			if fatal {
				// EBADFD: the interface was deleted under us; anything
				// else unexpected would repeat forever. Stop reading.
				return
			}
			continue
		}
		t.rxMu.Lock()
		t.rxQueue = append(t.rxQueue, buf[:n])
		arm := !t.rxArmed
		t.rxArmed = true
		t.rxMu.Unlock()
		if arm {
			t.rxTimer.Reset(t.loop.Now())
		}
	}
}

// rxBuffer returns a buffer to read a frame into, waiting while every
// buffer holds a frame the loop has not delivered yet; nil once the device
// is closed.
func (t *TAP) rxBuffer() []byte {
	for {
		t.rxMu.Lock()
		if k := len(t.rxFree); k > 0 {
			b := t.rxFree[k-1]
			t.rxFree = t.rxFree[:k-1]
			t.rxMu.Unlock()
			return b[:cap(b)]
		}
		if t.rxMade < rxBuffers {
			t.rxMade++
			t.rxMu.Unlock()
			return make([]byte, t.frameSize)
		}
		t.rxMu.Unlock()
		select {
		case <-t.rxRoom:
		case <-t.stop:
			return nil
		}
	}
}

// rxRecycle gives a buffer back to the reader.
func (t *TAP) rxRecycle(b []byte) {
	t.rxMu.Lock()
	t.rxFree = append(t.rxFree, b)
	t.rxMu.Unlock()
}

// deliverRX runs on the loop and hands every queued frame to the handler,
// in the order they were read.
func (t *TAP) deliverRX() {
	t.rxMu.Lock()
	frames := t.rxQueue
	t.rxQueue, t.rxSpare = t.rxSpare[:0], nil
	t.rxArmed = false
	t.rxMu.Unlock()
	for _, frame := range frames {
		if t.closed.Load() {
			break
		}
		h := t.handler.Load()
		if h == nil {
			t.rxDropped.Add(1)
			continue
		}
		t.rxFrames.Add(1)
		t.rxBytes.Add(uint64(len(frame)))
		(*h)(frame)
	}
	t.rxMu.Lock()
	t.rxFree = append(t.rxFree, frames...)
	clear(frames)
	t.rxSpare = frames[:0]
	t.rxMu.Unlock()
	select {
	case t.rxRoom <- struct{}{}:
	default:
	}
}

// reportReadError publishes a read failure on the loop, where the sink's
// publisher lives.
func (t *TAP) reportReadError(err error, fatal bool) {
	if !t.sink.Active() {
		return
	}
	t.loop.Call(func() {
		if !t.sink.Active() {
			return
		}
		explain := "Reading a frame from the TAP device failed; the frame is lost and reading goes on."
		if fatal {
			explain = "Reading from the TAP device failed in a way that will not pass (for example the interface was deleted); the link stops receiving."
		}
		t.sink.Publish(observe.Event{
			TimeNS:  int64(t.loop.Now()),
			Host:    t.name,
			Layer:   observe.LayerLink,
			Kind:    observe.KindError,
			Summary: fmt.Sprintf("TAP %s read failed: %v", t.name, err),
			Explain: explain,
			Reason:  "read-error",
			Fields:  map[string]any{"fatal": fatal},
		})
	})
}

// Close closes the device and waits for the reader and writer goroutines
// to return; no handler call starts after Close returns (one already
// running on the loop finishes). Send fails afterwards with
// net.ErrClosed. Frames Send queued before are written first. Close is
// safe to call more than once, from loop work too: neither the reader nor
// the writer waits for the loop.
func (t *TAP) Close() error {
	var err error
	t.once.Do(func() {
		t.closed.Store(true)
		t.txMu.Lock()
		t.txClosed = true
		t.txMu.Unlock()
		close(t.stop)
		<-t.wdone // what was queued is written first
		t.rxTimer.Stop()
		// Closing the file wakes a Read blocked in the runtime poller
		// (water opens the device non-blocking), so the reader ends now.
		if cerr := t.dev.Close(); cerr != nil {
			err = fmt.Errorf("close TAP %s: %w", t.name, cerr)
		}
		<-t.done
	})
	return err
}

// Done returns a channel that is closed when the reader has stopped: after
// Close, or when the device failed (for example it was deleted).
func (t *TAP) Done() <-chan struct{} { return t.done }

// Stats returns the device's counters. It may be called from any goroutine.
func (t *TAP) Stats() TAPStats {
	return TAPStats{
		RxFrames:  t.rxFrames.Load(),
		RxBytes:   t.rxBytes.Load(),
		RxDropped: t.rxDropped.Load(),
		RxErrors:  t.rxErrors.Load(),
		TxFrames:  t.txFrames.Load(),
		TxBytes:   t.txBytes.Load(),
		TxDropped: t.txDropped.Load(),
		TxErrors:  t.txErrors.Load(),
	}
}

var _ Link = (*TAP)(nil)
