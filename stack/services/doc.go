// Package services runs the built-in servers of a tipy host: echo (RFC 862),
// discard (RFC 863), daytime (RFC 867) and chargen (RFC 864) over UDP and
// TCP, and http (TCP port 80: "/", "/bytes/N", "POST /sha256"). They are the
// peers a lab's hosts talk to without writing a server: `tipyweb --services`,
// host.HostConfig.Services and host.Config.Services start them by name
// ([Names]), and the built-in lab's peer and far run all of them.
//
// echo, discard, daytime and chargen, over UDP and TCP alike, run on the
// stack's loop, driven by socket notifications rather than goroutines, so a
// lab that uses them stays a deterministic function of its seed. http is Go's
// net/http over tipy's net.Listener and needs goroutines of its own: [Start]
// opens its listening socket on the loop (so a port conflict is reported at
// once) and hands it to a goroutine that serves it; see [StartHTTP] for the
// same server started from outside the loop.
package services
