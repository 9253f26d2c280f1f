package lab

// tcpExperiments are the TCP experiments, in the order the dashboard lists
// them.
func tcpExperiments() []*Experiment {
	return []*Experiment{}
}
