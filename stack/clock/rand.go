package clock

import (
	"hash/fnv"
	"math/rand/v2"
)

// NewRand returns a random source derived from seed and a name, such as a
// host or link name. Two calls with the same seed and name give the same
// sequence; different names give independent sequences. Every random choice in
// tipy (ISNs, IP IDs, ephemeral ports, impairments) comes from such a source.
func NewRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}
