package tcp

import "errors"

// Sentinel errors of the receive queue; the errors returned wrap them, so
// callers test them with errors.Is and count the drop under the reason.
var (
	// ErrBeyondWindow: bytes lie past RCV.NXT + capacity and were dropped.
	ErrBeyondWindow = errors.New("beyond the reassembly window")
	// ErrTooManyRanges: a segment would open one more separate range than
	// the queue keeps; it was dropped.
	ErrTooManyRanges = errors.New("too many out-of-order ranges")
)
