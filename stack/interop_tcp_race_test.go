//go:build linux && race

package stack_test

// Sizes of the kernel-interop bulk transfers under the race detector, which
// makes tipy several times slower (interop_tcp_norace_test.go has the full
// sizes). The clean link still moves 64 MiB each way (about 20 s).
const (
	tcpBulkSize        = 64 << 20 // clean link, both directions
	tcpNetemSize       = 16 << 20 // netem on the kernel's side, both directions
	tcpImpairedUpSize  = 16 << 20 // kernel to tipy through tipy's impaired link
	tcpImpairedDownMin = 4 << 20  // tipy to kernel through tipy's impaired link
)
