//go:build linux && !race

package stack_test

// Sizes of the kernel-interop bulk transfers without the race detector
// (interop_tcp_race_test.go has those under -race). The clean link and
// netem move the 64 MiB each way of issue 4's acceptance. Through tipy's
// impaired link (1% loss both ways, 20 ms RTT) tipy's loss-based
// congestion control sends about 0.6 MB/s, so 64 MiB from tipy would take
// about two minutes: the download there is 8 MiB unless TIPY_TCP_FULL=1.
const (
	tcpBulkSize        = 64 << 20 // clean link, both directions
	tcpNetemSize       = 64 << 20 // netem on the kernel's side, both directions
	tcpImpairedUpSize  = 64 << 20 // kernel to tipy through tipy's impaired link
	tcpImpairedDownMin = 8 << 20  // tipy to kernel through tipy's impaired link
)
