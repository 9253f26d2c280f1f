package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors; every *ParseError wraps one of them, so callers can test
// the class of a failure with errors.Is.
var (
	// ErrTruncated: the buffer ends before the field does.
	ErrTruncated = errors.New("truncated")
	// ErrMalformed: a field holds a value the format does not allow.
	ErrMalformed = errors.New("malformed")
	// ErrChecksum: a checksum does not verify.
	ErrChecksum = errors.New("bad checksum")
	// ErrUnsupported: a valid value that tipy does not handle (e.g. ARP for
	// a hardware type other than Ethernet).
	ErrUnsupported = errors.New("unsupported")
)

// ParseError says which layer and field of a packet failed to parse, where,
// and why.
type ParseError struct {
	Layer  string // "ethernet", "arp", "ipv4", "icmp", "udp", "tcp"
	Field  string // the field at fault, e.g. "total length", "option MSS"
	Offset int    // byte offset of the field within the layer's header
	Reason string // plain words, e.g. "70 exceeds the 60 bytes received"
	Err    error  // one of the sentinel errors
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: %s (offset %d): %s", e.Layer, e.Field, e.Offset, e.Reason)
}

// Unwrap returns the sentinel, for errors.Is.
func (e *ParseError) Unwrap() error { return e.Err }

func errorf(sentinel error, layer, field string, offset int, format string, args ...any) *ParseError {
	return &ParseError{Layer: layer, Field: field, Offset: offset, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}
