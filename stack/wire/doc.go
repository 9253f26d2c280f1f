// Package wire holds tipy's wire formats: Ethernet II, ARP, IPv4 with
// options, ICMPv4, UDP and TCP with options, and the Internet checksum.
//
// Each protocol has two faces. A view (type Ethernet []byte, type IPv4 []byte,
// ...) reads and writes fields in place, with one-line accessors and no
// copies. A parsed struct (EthernetHeader, IPv4Header, ...) is what a program
// fills in to build a header, and what Parse returns.
//
// The contract: untrusted bytes go through the checked constructor (ParseX,
// or the view's Validate), which returns a *ParseError naming the layer, the
// field and the reason. Once a view has been validated, no accessor panics.
// Marshal writes a header into the headroom in front of a payload that is
// already in place, so a frame is built in one buffer without copying the
// payload.
//
// Package stack reads every frame it receives and builds every frame it
// sends with these types; [Dissect] turns a frame into the tree of fields,
// with their offsets, that the dashboard shows next to the bytes. The package
// depends on nothing else of tipy.
package wire
