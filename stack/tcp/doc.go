// Package tcp holds the algorithms of tipy's TCP that do not depend on the
// stack: congestion control (NewReno per RFC 5681 and RFC 6582, CUBIC per
// RFC 9438) behind one small interface, the retransmission timer estimator
// of RFC 6298, the SACK scoreboard of RFC 6675, and the out-of-order receive
// queue that merges ranges and produces SACK blocks (RFC 2018).
//
// Everything here is a plain data structure driven with explicit time: no
// goroutines, no clock reads, no I/O. The connection state machine that uses
// them lives in package stack (files tcp_*.go).
package tcp
