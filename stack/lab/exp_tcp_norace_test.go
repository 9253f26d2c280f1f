//go:build !race

package lab

import "time"

// tcpLabTimeLimit is the lab time an experiment may take in
// TestTCPExperimentsInSequence: about 30 s of the lab's clock, with room
// for the runner's own bookkeeping.
const tcpLabTimeLimit = 40 * time.Second
