// Package proc reads a process's CPU time and memory from /proc, and the
// machine's CPU model and load.
package proc

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ticksPerSecond is USER_HZ, 100 on every Linux architecture Go supports.
const ticksPerSecond = 100

// Sample is one reading of a process.
type Sample struct {
	At    time.Time
	Ticks uint64 // user + system CPU time, in clock ticks
	RSS   int64  // resident set size, bytes
	HWM   int64  // peak resident set size, bytes
}

// Read samples the process pid.
func Read(pid int) (Sample, error) {
	s := Sample{At: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	s.Ticks, err = parseStat(string(b))
	if err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	s.RSS, s.HWM = parseStatus(string(b))
	return s, nil
}

// parseStat returns utime+stime from the text of /proc/<pid>/stat. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields", len(f)+2)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime %q %q", f[11], f[12])
	}
	return u + s, nil
}

// parseStatus returns VmRSS and VmHWM, in bytes, from /proc/<pid>/status.
func parseStatus(status string) (rss, hwm int64) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			hwm = n << 10
		}
	}
	return rss, hwm
}

// CPUPercent is the CPU a process used between two samples, in percent of
// one core (200 means two cores busy).
func CPUPercent(a, b Sample) float64 {
	d := b.At.Sub(a.At).Seconds()
	if d <= 0 || b.Ticks < a.Ticks {
		return 0
	}
	return float64(b.Ticks-a.Ticks) / ticksPerSecond / d * 100
}

// CPUSeconds is the CPU time between two samples.
func CPUSeconds(a, b Sample) float64 {
	if b.Ticks < a.Ticks {
		return 0
	}
	return float64(b.Ticks-a.Ticks) / ticksPerSecond
}

// CPUModel is the first "model name" of /proc/cpuinfo, and the number of
// processors it lists.
func CPUModel() (model string, processors int) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown", 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		case "processor":
			processors++
		}
	}
	if model == "" {
		model = "unknown"
	}
	return model, processors
}

// LoadAvg is the 1, 5 and 15 minute load averages.
func LoadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

// MemTotal is the machine's memory in bytes.
func MemTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}
