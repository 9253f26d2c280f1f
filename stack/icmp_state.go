package stack

// icmpSt returns the stack's ICMP state.
func (s *Stack) icmpSt() *icmpState { return &s.icmp }
