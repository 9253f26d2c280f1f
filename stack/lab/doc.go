// Package lab is tipy's laboratory: the networks that `tipyweb` runs and the
// guided experiments the dashboard offers on them.
//
// A lab is a host.Network (see package stack/host) described by a topology
// file ([ParseTopology], [Topology.Build]): switches, hosts with their
// addresses, routers, built-in services and link impairments. [Builtin]
// builds the lab of `make run` from [BuiltinTopology]: hosts tipy and peer on
// LAN 192.168.2.0/24, router gw, and host far on 10.0.5.0/24 behind it.
//
// An [Experiment] drives a lab's hosts through the socket API and the lab's
// controls, and names the events that prove the mechanism it shows (an ARP
// queue filling, a zero window probed, a retransmission timeout backing
// off). A [Runner] runs experiments one at a time against a running lab,
// watching its observe.Bus, and reports for each proof the first event that
// matched; the web layer exposes it to the dashboard. [All] lists the
// experiments, from the wire up.
//
// Like the rest of stack/, nothing here knows of HTTP or JSON: cmd/tipyweb
// and the web package put a lab on the network.
package lab
