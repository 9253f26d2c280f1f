// Package observe is tipy's observer bus: every layer of every stack
// publishes typed events into it, and the dashboard, the recorder and tests
// subscribe to them.
//
// Publishing never blocks and costs about one atomic load when nobody
// listens ([Bus.Active]). Each subscriber has a filter and a bounded queue; a
// subscriber that falls behind receives one gap event with the exact number of
// events it missed, never a silent loss. A ring buffer of recent events lets a
// late joiner catch up from a sequence number. [Recorder] writes the trace file
// of the contracts (JSON Lines with a header) and [Reader] plays it back.
//
// The stacks and links publish into a [Sink] (a *Bus, or [Discard]);
// package stack/host hands the same bus to every host and switch of a
// network, so one subscription sees all of them, each event named after its
// host. The web layer streams the bus to the dashboard, and tipyweb's
// --record writes it to a trace file.
package observe
