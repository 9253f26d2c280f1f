//go:build !linux

package tap

import (
	"errors"
	"fmt"
	"net"
	"runtime"

	"github.com/tipy/tipy/observe"
	"github.com/tipy/tipy/stack/clock"
	"github.com/tipy/tipy/stack/wire"
)

// TAPConfig says how to open a TAP device. TAP devices are Linux-only in
// tipy; see the Linux build for the meaning of each field.
type TAPConfig struct {
	MAC  wire.MAC     // the stack's own hardware address
	MTU  int          // link MTU; 0 means 1500
	Up   bool         // bring the interface up once open
	Sink observe.Sink // device events (refused frames, read errors)
}

// TAPStats counts what crossed a TAP device.
type TAPStats struct {
	RxFrames, RxBytes, RxDropped, RxErrors uint64
	TxFrames, TxBytes, TxDropped, TxErrors uint64
}

// TAP is a Link on a TAP device. On this platform none can be opened.
type TAP struct{ name string }

// ErrTAPUnsupported is returned by OpenTAP on platforms other than Linux.
var ErrTAPUnsupported = errors.New("TAP devices are supported on Linux only")

// OpenTAP fails on this platform: tipy drives TAP devices on Linux only.
func OpenTAP(name string, loop clock.Loop, cfg TAPConfig) (*TAP, error) {
	return nil, fmt.Errorf("open TAP %s: %w (this is %s; run tipy on Linux, or use the built-in lab)",
		name, ErrTAPUnsupported, runtime.GOOS)
}

// Name returns the interface name.
func (t *TAP) Name() string { return t.name }

// MTU returns the link MTU.
func (t *TAP) MTU() int { return 0 }

// MAC returns the stack's own MAC.
func (t *TAP) MAC() wire.MAC { return wire.MAC{} }

// SetHandler does nothing: no TAP is ever open here.
func (t *TAP) SetHandler(Handler) {}

// Send fails: no TAP is ever open here.
func (t *TAP) Send([]byte) error { return net.ErrClosed }

// Close does nothing.
func (t *TAP) Close() error { return nil }

// Done returns a closed channel: there is no reader.
func (t *TAP) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// Stats returns zero counters.
func (t *TAP) Stats() TAPStats { return TAPStats{} }

var _ Link = (*TAP)(nil)

// NetnsPath returns the file of a named network namespace (Linux only).
func NetnsPath(name string) string { return "/run/netns/" + name }

// InNetns runs f inside a network namespace; network namespaces are Linux
// only, so elsewhere it fails.
func InNetns(ns string, f func() error) error {
	return fmt.Errorf("network namespace %s: %w", ns, errors.ErrUnsupported)
}
