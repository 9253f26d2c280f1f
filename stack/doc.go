// Package stack is tipy's TCP/IP stack: a deterministic state machine that is
// fed Ethernet frames, timer deadlines and socket calls, each with an explicit
// "now", and that answers with frames and events.
//
// A [Stack] belongs to one clock.Loop, its single owner: frames arrive through
// the link's handler on the loop, timers fire on the loop, and calls from other
// goroutines go through clock.Loop.Call. Nothing in the package reads the wall
// clock, keeps global state or starts goroutines; every random choice comes
// from a source seeded by [Config.Seed].
//
// Every decision is published to an observe.Sink as an event with a reason in
// plain words and the RFC section behind it; a dropped frame is counted under
// its [Reason] and traced, never silently lost.
package stack
