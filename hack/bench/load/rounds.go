package load

import (
	"encoding/json"
	"math"
	"sort"
)

// Stat is a figure measured in several rounds: the median of the rounds,
// and the lowest and highest round.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Summarize returns the median, min and max of one figure over rounds.
// With an even number of rounds the median is the mean of the middle two.
// No rounds give NaN everywhere.
func Summarize(rounds []float64) Stat {
	if len(rounds) == 0 {
		return Stat{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := append([]float64(nil), rounds...)
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[n-1]}
}

// Diff returns, round by round, b[i] - a[i]: the cost a path adds over
// its baseline measured in the same round.
func Diff(a, b []float64) []float64 {
	n := min(len(a), len(b))
	out := make([]float64, n)
	for i := range n {
		out[i] = b[i] - a[i]
	}
	return out
}

// MarshalJSON writes a figure no round measured as null.
func (s Stat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(s.Median) || math.IsNaN(s.Min) || math.IsNaN(s.Max) {
		return []byte("null"), nil
	}
	type plain Stat
	return json.Marshal(plain(s))
}
