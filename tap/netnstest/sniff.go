//go:build linux

package netnstest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Frame is one frame a [Sniffer] saw on the kernel's side of an interface.
type Frame struct {
	Data []byte // the Ethernet frame, from the destination MAC on
	// Outgoing is true for a frame the kernel sent through the interface,
	// false for one it received (from tipy, on a TAP).
	Outgoing bool
}

// Sniffer records every frame crossing one interface inside a namespace,
// through an AF_PACKET socket opened there (no tcpdump needed).
type Sniffer struct {
	dev    string
	file   *os.File
	done   chan struct{}
	mu     sync.Mutex
	frames []Frame
}

// Sniff starts recording the frames that cross interface dev in the
// namespace, in both directions. It stops at cleanup.
func (ns *NS) Sniff(t testing.TB, dev string) *Sniffer {
	t.Helper()
	var fd, ifindex int
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		ifindex = ifi.Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind AF_PACKET socket to %s: %w", dev, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("netnstest: sniff %s in %s: %v", dev, ns.name, err)
	}
	s := &Sniffer{dev: dev, file: os.NewFile(uintptr(fd), "packet:"+dev), done: make(chan struct{})}
	go s.read(ifindex)
	t.Cleanup(s.stop)
	return s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *Sniffer) read(ifindex int) {
	defer close(s.done)
	rc, err := s.file.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 65536+64)
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil { // the file was closed
			return
		}
		if rerr != nil {
			if errors.Is(rerr, unix.EINTR) {
				continue
			}
			return
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Ifindex != ifindex { // before bind, other interfaces' frames could slip in
			continue
		}
		f := Frame{Data: append([]byte(nil), buf[:n]...), Outgoing: ll.Pkttype == unix.PACKET_OUTGOING}
		s.mu.Lock()
		s.frames = append(s.frames, f)
		s.mu.Unlock()
	}
}

func (s *Sniffer) stop() {
	s.file.Close()
	<-s.done
}

// Frames returns the frames recorded so far, oldest first.
func (s *Sniffer) Frames() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Frame(nil), s.frames...)
}

// Wait waits up to timeout for a recorded frame that match accepts, and
// returns the first one; it fails the test, naming what, if none comes.
func (s *Sniffer) Wait(t testing.TB, timeout time.Duration, what string, match func(Frame) bool) Frame {
	t.Helper()
	var found Frame
	Eventually(t, timeout, what+" on "+s.dev, func() bool {
		for _, f := range s.Frames() {
			if match(f) {
				found = f
				return true
			}
		}
		return false
	})
	return found
}
