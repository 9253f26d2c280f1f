// Package seqnum is TCP sequence-number arithmetic (RFC 9293 §3.4): 32-bit
// numbers compared modulo 2^32, so that comparisons stay right when the
// sequence space wraps around.
//
// The rule: a is "less than" b when b-a, taken as a signed 32-bit number, is
// positive. This holds as long as the two numbers are less than 2^31 apart,
// which TCP's windows guarantee.
//
// TCP's state machine (package stack) and its algorithms (package stack/tcp)
// hold sequence numbers as these types, so that comparing them goes through
// this arithmetic.
package seqnum
