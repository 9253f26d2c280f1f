package lab

// netExperiments are the experiments below TCP: Ethernet, ARP, IPv4, ICMP,
// UDP and raw sockets, in the order the dashboard lists them.
func netExperiments() []*Experiment {
	return []*Experiment{
		expARPQueue,
	}
}
