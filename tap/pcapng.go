package tap

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tipy/tipy/stack/clock"
)

// PcapngWriter writes Ethernet frames to a pcapng file (the format of
// Wireshark and tshark) with a comment per packet. One file can hold several
// interfaces, one per link of a lab. Timestamps are the Unix time of the
// loop's clock.Time with nanosecond resolution; on a virtual loop, whose
// time starts at 0, packets are therefore dated from 1970-01-01.
//
// It is safe for use by several goroutines. Output is buffered: call
// [PcapngWriter.Flush] before closing the underlying writer.
type PcapngWriter struct {
	mu     sync.Mutex
	ng     *pcapgo.NgWriter
	ifaces map[string]int
}

// NewPcapngWriter writes a pcapng section header and a first Ethernet
// interface, number 0, named ifaceName, to w.
func NewPcapngWriter(w io.Writer, ifaceName string) (*PcapngWriter, error) {
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Hardware:    runtime.GOARCH,
		OS:          runtime.GOOS,
		Application: "tipy",
	}}
	ng, err := pcapgo.NewNgWriterInterface(w, pcapngInterface(ifaceName), opts)
	if err != nil {
		return nil, fmt.Errorf("pcapng: start file: %w", err)
	}
	return &PcapngWriter{ng: ng, ifaces: map[string]int{ifaceName: 0}}, nil
}

func pcapngInterface(name string) pcapgo.NgInterface {
	return pcapgo.NgInterface{
		Name:                name,
		OS:                  runtime.GOOS,
		LinkType:            layers.LinkTypeEthernet,
		TimestampResolution: 9,
	}
}

// AddInterface adds an Ethernet interface named name to the file and returns
// its number, for [PcapngWriter.WritePacketOn].
func (w *PcapngWriter) AddInterface(name string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.addLocked(name)
}

func (w *PcapngWriter) addLocked(name string) (int, error) {
	id, err := w.ng.AddInterface(pcapngInterface(name))
	if err != nil {
		return 0, fmt.Errorf("pcapng: add interface %q: %w", name, err)
	}
	if _, ok := w.ifaces[name]; !ok {
		w.ifaces[name] = id
	}
	return id, nil
}

// Interface returns the number of the interface named name, adding it when
// the file has none of that name yet.
func (w *PcapngWriter) Interface(name string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if id, ok := w.ifaces[name]; ok {
		return id, nil
	}
	return w.addLocked(name)
}

// WritePacket writes frame, captured at t, on interface 0, with comment as
// its packet comment (none when empty).
func (w *PcapngWriter) WritePacket(t clock.Time, frame []byte, comment string) error {
	return w.write(0, t, frame, comment, 0)
}

// WritePacketOn writes frame on interface iface (from
// [PcapngWriter.AddInterface] or [PcapngWriter.Interface]).
func (w *PcapngWriter) WritePacketOn(iface int, t clock.Time, frame []byte, comment string) error {
	return w.write(iface, t, frame, comment, 0)
}

// write writes one enhanced packet block; dir is 0 or one of pcapgo's
// NgEpbFlagDirection values, recorded in the packet's flags.
func (w *PcapngWriter) write(iface int, t clock.Time, frame []byte, comment string, dir pcapgo.NgEpbFlag) error {
	ci := gopacket.CaptureInfo{
		Timestamp:      time.Unix(0, int64(t)),
		CaptureLength:  len(frame),
		Length:         len(frame),
		InterfaceIndex: iface,
	}
	if len(comment) > 0xfff0 {
		return fmt.Errorf("pcapng: %d-byte packet comment is longer than an option can hold (65520)", len(comment))
	}
	var opts pcapgo.NgPacketOptions
	if comment != "" {
		opts.Comments = []string{comment}
	}
	if dir != 0 {
		opts.Flags = &pcapgo.NgEpbFlags{Direction: dir}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ng.WritePacketWithOptions(ci, frame, opts); err != nil {
		return fmt.Errorf("pcapng: write packet: %w", err)
	}
	return nil
}

// Flush writes out buffered data.
func (w *PcapngWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ng.Flush(); err != nil {
		return fmt.Errorf("pcapng: flush: %w", err)
	}
	return nil
}
