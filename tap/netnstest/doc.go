// Package netnstest runs tests against the real Linux kernel as a peer,
// inside network namespaces the test creates, so the machine's own network is
// never touched.
//
// A test calls [New] for a fresh namespace (loopback up, deleted at cleanup
// with everything in it), opens a tipy TAP device inside it with
// [NS.OpenTAP], configures the kernel's side with [NS.Addr] and [NS.Up], runs
// commands there with [NS.Run] and [NS.Start], watches frames with
// [NS.Sniff], and connects two namespaces with [NS.Link]. [Eventually] waits
// for a condition with a deadline instead of sleeping.
//
// Everything here needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) and the
// iproute2 "ip" command. [Require] skips a test that cannot have them, or
// fails it when the environment variable TIPY_REQUIRE_NETNS=1 says the
// machine must. On systems other than Linux, Require is all there is, and it
// skips.
//
// The kernel interoperability tests use it: the stack's (ARP, ICMP, UDP, TCP
// against Linux), the TAP device's, tipyweb's TAP mode, host.Start on a TAP
// device, and the example programs' -tap mode.
//
// Namespace names encode their creator: "tipy-<pid>-<start>-<n>", where pid
// is the creating process, start its start time (clock ticks since boot,
// base 36, from /proc/<pid>/stat) and n a counter. When a test process dies
// without cleaning up (SIGKILL, a crash), the next [New] finds its namespaces
// by name, sees that no process with that pid and start time lives, and
// deletes them.
package netnstest
