package tap

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrBadImpairment is wrapped by every error of [ParseImpairment] and
// [Impairment.Validate].
var ErrBadImpairment = errors.New("bad impairment")

// ImpairError says which key of an impairment spec is wrong and why.
type ImpairError struct {
	Key    string // "loss", "delay", ...; empty when the item has no key
	Value  string // the value as written
	Reason string // plain words
}

func (e *ImpairError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("impair: %q: %s", e.Value, e.Reason)
	}
	return fmt.Sprintf("impair: %s=%s: %s", e.Key, e.Value, e.Reason)
}

// Unwrap returns ErrBadImpairment, for errors.Is.
func (e *ImpairError) Unwrap() error { return ErrBadImpairment }

const impKeys = "rate, queue, loss, burst, delay, jitter, reorder, reorder-delay, dup, corrupt, corrupt-bits"

// ParseImpairment reads the command-line form of an [Impairment]: a
// comma-separated list of key=value items, each key at most once, such as
//
//	loss=1%,delay=10ms,jitter=2ms,dup=0.5%,reorder=5%,corrupt=0.1%,rate=20mbit
//
// The keys:
//
//	rate=R            rate limit; R in bit, kbit, mbit or gbit per second (20mbit)
//	queue=N           queue limit of the rate limit; N in b, kb, mb (10^3, 10^6)
//	                  or kib, mib (2^10, 2^20); default 64kib; needs rate
//	loss=P            random loss probability
//	burst=P/R         Gilbert burst loss: good->bad P, bad->good R per frame,
//	                  every frame lost while bad (mean burst length 1/R)
//	burst=P/R/B/G     Gilbert-Elliott: as above, with loss probability B in the
//	                  bad state and G in the good state (B alone: P/R/B)
//	delay=D           one-way delay
//	jitter=D          uniform jitter in [-D, +D] around delay, never reordering
//	reorder=P         probability a frame is held back so later frames pass it
//	reorder-delay=D   how long such a frame is held back (default 1ms)
//	dup=P             duplication probability
//	corrupt=P         probability of flipping bits in a frame
//	corrupt-bits=N    how many bits a corrupted frame gets flipped (default 1)
//
// Probabilities are written in percent (1%, 0.5%, 100%); durations as Go
// durations (10ms, 250us, 1.5s). The empty string and "none" mean no
// impairment. Errors name the item at fault and wrap [ErrBadImpairment].
func ParseImpairment(spec string) (Impairment, error) {
	var imp Impairment
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "none" {
		return imp, nil
	}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		key, val, ok := strings.Cut(item, "=")
		key, val = strings.TrimSpace(strings.ToLower(key)), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return Impairment{}, &ImpairError{Value: item, Reason: "want key=value, with key one of " + impKeys}
		}
		if seen[key] {
			return Impairment{}, &ImpairError{Key: key, Value: val, Reason: "given more than once"}
		}
		seen[key] = true
		if err := imp.parseItem(key, val); err != nil {
			return Impairment{}, err
		}
	}
	if err := imp.Validate(); err != nil {
		return Impairment{}, err
	}
	return imp, nil
}

func (imp *Impairment) parseItem(key, val string) error {
	bad := func(reason string) error { return &ImpairError{Key: key, Value: val, Reason: reason} }
	var err error
	switch key {
	case "rate":
		imp.Rate, err = impParseRate(val)
	case "queue":
		imp.Queue, err = impParseBytes(val)
	case "loss":
		imp.Loss, err = impParsePercent(val)
	case "burst":
		parts := strings.Split(val, "/")
		if len(parts) < 2 || len(parts) > 4 {
			return bad("want P/R or P/R/LOSSBAD/LOSSGOOD, in percent")
		}
		g := GilbertElliott{LossBad: 1}
		dst := []*float64{&g.P, &g.R, &g.LossBad, &g.LossGood}
		for i, part := range parts {
			if *dst[i], err = impParsePercent(part); err != nil {
				return bad(fmt.Sprintf("%s in part %d", err.Error(), i+1))
			}
		}
		if g.P == 0 {
			return bad("P, the probability of entering the bad state, must be above 0%")
		}
		imp.Burst = g
	case "delay":
		imp.Delay, err = impParseDuration(val)
	case "jitter":
		imp.Jitter, err = impParseDuration(val)
	case "reorder":
		imp.Reorder, err = impParsePercent(val)
	case "reorder-delay":
		imp.ReorderDelay, err = impParseDuration(val)
	case "dup":
		imp.Dup, err = impParsePercent(val)
	case "corrupt":
		imp.Corrupt, err = impParsePercent(val)
	case "corrupt-bits":
		var n int
		n, err = strconv.Atoi(val)
		if err == nil && (n < 1 || n > 64) {
			err = errors.New("must be between 1 and 64")
		}
		if err != nil && errors.Is(err, strconv.ErrSyntax) {
			err = errors.New("want a whole number of bits")
		}
		imp.CorruptBits = n
	default:
		return bad("unknown key; known keys: " + impKeys)
	}
	if err != nil {
		return bad(err.Error())
	}
	return nil
}

func impParsePercent(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, errors.New("want a percentage such as 1% or 0.5%")
	}
	num = strings.TrimSpace(num)
	if strings.ContainsAny(num, "eE_") {
		return 0, errors.New("want a plain decimal number before %")
	}
	// Read num/100 as one decimal number, so that it is rounded once.
	v, err := strconv.ParseFloat(num+"e-2", 64)
	if err != nil || math.IsNaN(v) {
		return 0, errors.New("want a number before %")
	}
	if v < 0 || v > 1 {
		return 0, errors.New("must be between 0% and 100%")
	}
	return v, nil
}

func impParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration such as 10ms, 250us or 1.5s")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	if d > MaxImpairDelay {
		return 0, errors.New("must be at most " + MaxImpairDelay.String())
	}
	return d, nil
}

// impUnit splits "20mbit" into 20 and the multiplier of its unit.
func impUnit(s string, units []impUnitDef, what string) (float64, error) {
	s = strings.ToLower(s)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.name); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("want a number before %s", u.name)
			}
			if v < 0 {
				return 0, errors.New("must not be negative")
			}
			return v * u.mult, nil
		}
	}
	return 0, fmt.Errorf("want %s", what)
}

type impUnitDef struct {
	name string
	mult float64
}

// Longest suffixes first, so that "kbit" is not read as "bit".
var (
	impRateUnits = []impUnitDef{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}
	impByteUnits = []impUnitDef{{"mib", 1 << 20}, {"kib", 1 << 10}, {"mb", 1e6}, {"kb", 1e3}, {"b", 1}}
)

func impParseRate(s string) (uint64, error) {
	v, err := impUnit(s, impRateUnits, "a rate such as 20mbit (units bit, kbit, mbit, gbit)")
	if err != nil {
		return 0, err
	}
	if v < 1 || v > 1e12 || v != math.Trunc(v) {
		return 0, errors.New("must be a whole number of bits per second from 1bit to 1000gbit")
	}
	return uint64(v), nil
}

func impParseBytes(s string) (int, error) {
	v, err := impUnit(s, impByteUnits, "a size such as 64kb (units b, kb, mb, kib, mib)")
	if err != nil {
		return 0, err
	}
	if v < 1 || v > 1<<30 || v != math.Trunc(v) {
		return 0, errors.New("must be a whole number of bytes from 1b to 1024mib")
	}
	return int(v), nil
}

// String returns the command-line form of imp, which [ParseImpairment] reads
// back to the same value; "none" for a perfect link.
func (imp Impairment) String() string {
	var items []string
	add := func(key, val string) { items = append(items, key+"="+val) }
	if imp.Rate > 0 {
		add("rate", impFormatRate(imp.Rate))
	}
	if imp.Queue != 0 {
		add("queue", impFormatBytes(imp.Queue))
	}
	if imp.Loss != 0 {
		add("loss", impFormatPercent(imp.Loss))
	}
	if g := imp.Burst; g.Active() {
		v := impFormatPercent(g.P) + "/" + impFormatPercent(g.R)
		switch {
		case g.LossGood != 0:
			v += "/" + impFormatPercent(g.LossBad) + "/" + impFormatPercent(g.LossGood)
		case g.LossBad != 1:
			v += "/" + impFormatPercent(g.LossBad)
		}
		add("burst", v)
	}
	if imp.Delay != 0 {
		add("delay", imp.Delay.String())
	}
	if imp.Jitter != 0 {
		add("jitter", imp.Jitter.String())
	}
	if imp.Reorder != 0 {
		add("reorder", impFormatPercent(imp.Reorder))
	}
	if imp.ReorderDelay != 0 {
		add("reorder-delay", imp.ReorderDelay.String())
	}
	if imp.Dup != 0 {
		add("dup", impFormatPercent(imp.Dup))
	}
	if imp.Corrupt != 0 {
		add("corrupt", impFormatPercent(imp.Corrupt))
	}
	if imp.CorruptBits != 0 {
		add("corrupt-bits", strconv.Itoa(imp.CorruptBits))
	}
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ",")
}

// impFormatPercent writes p (a fraction) as a percentage that
// impParsePercent reads back to exactly p: the shortest decimal form of p
// with its point moved two places right.
func impFormatPercent(p float64) string {
	if p == 0 {
		return "0%"
	}
	if math.IsNaN(p) || math.IsInf(p, 0) {
		return strconv.FormatFloat(p, 'g', -1, 64) + "%"
	}
	e := strconv.FormatFloat(p, 'e', -1, 64) // "3.333333333333333e-01"
	mant, exp, _ := strings.Cut(e, "e")
	sign := ""
	if strings.HasPrefix(mant, "-") {
		sign, mant = "-", mant[1:]
	}
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	point := 1 + x + 2 // digits before the decimal point
	var out string
	switch {
	case point <= 0:
		out = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		out = digits + strings.Repeat("0", point-len(digits))
	default:
		out = digits[:point] + "." + digits[point:]
	}
	return sign + out + "%"
}

func impFormatRate(bps uint64) string {
	switch {
	case bps%1e9 == 0:
		return strconv.FormatUint(bps/1e9, 10) + "gbit"
	case bps%1e6 == 0:
		return strconv.FormatUint(bps/1e6, 10) + "mbit"
	case bps%1e3 == 0:
		return strconv.FormatUint(bps/1e3, 10) + "kbit"
	}
	return strconv.FormatUint(bps, 10) + "bit"
}

func impFormatBytes(n int) string {
	switch {
	case n > 0 && n%1e6 == 0:
		return strconv.Itoa(n/1e6) + "mb"
	case n > 0 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "mib"
	case n > 0 && n%1e3 == 0:
		return strconv.Itoa(n/1e3) + "kb"
	case n > 0 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "kib"
	}
	return strconv.Itoa(n) + "b"
}
