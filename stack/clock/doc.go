// Package clock gives tipy explicit time.
//
// Protocol code in tipy never reads the wall clock. It is handed "now" as a
// [Time] by a driver, and it tells the driver when it next wants to run. The
// driver is a [Loop]: a single goroutine that owns one or more stacks and runs
// every piece of work that touches them, one after another, in time order.
//
// There are two loops:
//
//   - [NewWall] runs on wall-clock time: now is the Unix time in nanoseconds,
//     timers fire when real time reaches them. Used with a real TAP device.
//   - [NewVirtual] runs on virtual time: a discrete-event scheduler whose clock
//     jumps from one scheduled event to the next. It can run as fast as
//     possible, at a multiple of real time, paused, or one event at a time.
//     A whole lab (several stacks and the virtual network between them) runs on
//     one virtual loop, so one seed gives one trace.
//
// Work posted from other goroutines ([Loop.Post], [Loop.Call]) runs on the
// loop at the loop's current time, after the work already due.
//
// [NewRand] derives independent, reproducible random sources from one seed,
// so that ISNs, IP IDs, ephemeral ports and link impairments are all seeded.
//
// Package stack/host makes and drives the loops: a Wall for a host on a TAP
// device, one Virtual for a whole virtual network.
package clock
