package proc

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1520 0 0 0 123 45 0 0 20 0 9 0 100 1000 200 18446744073709551615"
	got, err := parseStat(stat)
	if err != nil || got != 168 {
		t.Fatalf("parseStat = %d, %v; want 168 (utime 123 + stime 45)", got, err)
	}
	if _, err := parseStat("4242 (x) S 1"); err == nil {
		t.Error("short stat accepted")
	}
}

func TestParseStatus(t *testing.T) {
	rss, hwm := parseStatus("Name:\tdaprd\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t12\n")
	if rss != 100<<20 || hwm != 200<<20 {
		t.Fatalf("rss %d, hwm %d; want 100 MiB and 200 MiB", rss, hwm)
	}
}

func TestCPUPercent(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := Sample{At: t0, Ticks: 1000}
	b := Sample{At: t0.Add(2 * time.Second), Ticks: 1300} // 3 s of CPU in 2 s
	if got := CPUPercent(a, b); got != 150 {
		t.Errorf("CPUPercent = %v, want 150", got)
	}
	if got := CPUSeconds(a, b); got != 3 {
		t.Errorf("CPUSeconds = %v, want 3", got)
	}
}

func TestReadSelf(t *testing.T) {
	s, err := Read(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS {
		t.Errorf("RSS %d, HWM %d", s.RSS, s.HWM)
	}
}
