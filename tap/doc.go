// Package tap carries Ethernet frames between tipy stacks and the world.
//
// A [Link] is the frame device a stack sends through and receives from. Links
// come from a real Linux TAP device ([OpenTAP], on songgao/water) or from an
// in-process virtual network ([Switch]) whose ports can impair traffic with
// seeded loss, delay, duplication, reordering, corruption and rate limits.
// Wrappers compose around any link: [Capture] writes what crosses it to pcapng
// with a comment per packet.
//
// Every link delivers received frames on a clock.Loop, the single owner of the
// stack behind it, so stacks never see concurrent input.
//
// Package stack/host plugs stacks into links: a TAP device for a host on the
// machine's network, or the ports of switches for a virtual network. Package
// tap/netnstest puts TAP devices inside network namespaces, for tests that
// have the Linux kernel as a peer.
package tap
