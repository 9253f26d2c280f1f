//go:build race

package lab

import "time"

// tcpLabTimeLimit is the lab time an experiment may take in
// TestTCPExperimentsInSequence. The race detector makes the hosts several
// times slower while the lab's clock keeps its pace, and the runner waits
// for its watcher to see every event before it stops the clock, so only a
// runaway experiment is caught here (exp_tcp_norace_test.go has the limit
// that matters).
const tcpLabTimeLimit = 3 * time.Minute
