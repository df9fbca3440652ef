package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/todo-chatbot/functions/hack/bench/load"
	"github.com/todo-chatbot/functions/hack/bench/proc"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// ColdRow is one function's start-up.
type ColdRow struct {
	Function  string  `json:"function"`
	BinaryMiB float64 `json:"binary_mib"`
	// Alone: the function's process start to /readyz 200, its sidecar
	// already up.
	Alone       load.Stat `json:"alone_ready_ms"`
	AloneRounds []float64 `json:"alone_rounds_ms"`
	RSSMiB      load.Stat `json:"rss_mib_when_ready"`
	// WithSidecar: function and daprd started together, until both are
	// ready (the function's /readyz and daprd's /v1.0/healthz answer 2xx).
	WithSidecar       *load.Stat `json:"with_sidecar_ready_ms,omitempty"`
	WithSidecarRounds []float64  `json:"with_sidecar_rounds_ms,omitempty"`
	SidecarRSSMiB     *load.Stat `json:"sidecar_rss_mib_when_ready,omitempty"`
}

// Cold is the start-up benchmark.
type Cold struct {
	Rows       []ColdRow `json:"functions"`
	DaprdMiB   float64   `json:"daprd_binary_mib"`
	ErrorsSeen []string  `json:"errors,omitempty"`
}

type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func spawn(args, env []string, logPath string) (*child, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The child writes the log; closing this process's copy of the file can
	// fail in no way that matters.
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(c.done) }()
	return c, nil
}

// stop ends the child: SIGTERM, then SIGKILL after the grace period.
func (c *child) stop(grace time.Duration) {
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

// probeClient opens a new connection for every probe, as kubelet does.
var probeClient = &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}

func ok2xx(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

// waitReady polls each URL every 2 ms and returns, for each, the time from
// t0 to its first 2xx.
func waitReady(ctx context.Context, t0 time.Time, timeout time.Duration, died <-chan struct{}, urls ...string) ([]time.Duration, error) {
	out := make([]time.Duration, len(urls))
	left := len(urls)
	for left > 0 {
		for i, u := range urls {
			if out[i] == 0 && ok2xx(ctx, u) {
				out[i] = time.Since(t0)
				left--
			}
		}
		if left == 0 {
			break
		}
		select {
		case <-died:
			return nil, errors.New("process exited before it was ready")
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Since(t0) > timeout {
			return nil, fmt.Errorf("not ready after %s", timeout)
		}
	}
	return out, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// coldStart starts each function binary on its own next to an existing
// sidecar (bench-caller's: /readyz only asks the sidecar's outbound health),
// then a few functions together with a fresh daprd of their app-id.
func (b *bench) coldStart(ctx context.Context) error {
	c := Cold{}
	if st, err := os.Stat(filepath.Join(b.s.bin, "daprd")); err == nil {
		c.DaprdMiB = mib(st.Size())
	}
	logs := filepath.Join(b.s.dir, "logs")
	base := append(os.Environ(), b.s.env...)
	pairs := map[string]bool{}
	for _, n := range b.sz.ColdPairs {
		pairs[n] = true
	}
	for _, name := range devstack.Functions {
		row := ColdRow{Function: name}
		base := append(slices.Clip(base), devstack.DeployedEnv(name)...)
		binary := filepath.Join(b.s.bin, name)
		if st, err := os.Stat(binary); err == nil {
			row.BinaryMiB = mib(st.Size())
		}
		var rss []float64
		for r := 0; r < b.sz.ColdRounds; r++ {
			port, err := freePort()
			if err != nil {
				return err
			}
			env := append(slices.Clip(base), "PORT="+strconv.Itoa(port), "LOG_LEVEL=info", "DRAIN_QUIET_PERIOD=0s",
				"DAPR_HTTP_PORT="+strconv.Itoa(b.s.caller.HTTPPort), "DAPR_GRPC_PORT="+strconv.Itoa(b.s.caller.GRPCPort))
			t0 := time.Now()
			ch, err := spawn([]string{binary}, env, filepath.Join(logs, "cold-"+name+".log"))
			if err != nil {
				return err
			}
			d, err := waitReady(ctx, t0, 15*time.Second, ch.done, fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
			if err == nil {
				row.AloneRounds = append(row.AloneRounds, ms(d[0]))
				if s, err := proc.Read(ch.cmd.Process.Pid); err == nil {
					rss = append(rss, mib(s.RSS))
				}
			} else {
				c.ErrorsSeen = append(c.ErrorsSeen, fmt.Sprintf("%s alone: %v", name, err))
			}
			ch.stop(5 * time.Second)
		}
		row.Alone, row.RSSMiB = load.Summarize(row.AloneRounds), load.Summarize(rss)
		b.log("cold start %s alone: %.0f ms (RSS %.1f MiB)", name, row.Alone.Median, row.RSSMiB.Median)
		if pairs[name] {
			if err := b.coldPair(ctx, name, binary, base, logs, &row, &c); err != nil {
				return err
			}
		}
		c.Rows = append(c.Rows, row)
	}
	b.rep.Cold = &c
	return ctx.Err()
}

// coldPair starts the function and a new daprd of its app-id at the same
// instant, as a Knative pod does, until both are ready.
func (b *bench) coldPair(ctx context.Context, name, binary string, base []string, logs string, row *ColdRow, c *Cold) error {
	var both, sideRSS []float64
	for r := 0; r < b.sz.ColdRounds; r++ {
		f, err := newFunction(name, binary)
		if err != nil {
			return err
		}
		env := append(slices.Clip(base), "PORT="+strconv.Itoa(f.AppPort), "LOG_LEVEL=info", "DRAIN_QUIET_PERIOD=0s",
			"DAPR_HTTP_PORT="+strconv.Itoa(f.HTTPPort), "DAPR_GRPC_PORT="+strconv.Itoa(f.GRPCPort))
		args := b.s.SidecarArgs(f)
		t0 := time.Now()
		app, err := spawn([]string{binary}, env, filepath.Join(logs, "cold-"+name+".log"))
		if err != nil {
			return err
		}
		side, err := spawn(args, env, filepath.Join(logs, "cold-"+name+"-dapr.log"))
		if err != nil {
			app.stop(time.Second)
			return err
		}
		died := make(chan struct{})
		go func() {
			select {
			case <-app.done:
			case <-side.done:
			}
			close(died)
		}()
		d, err := waitReady(ctx, t0, 60*time.Second, died,
			fmt.Sprintf("http://127.0.0.1:%d/readyz", f.AppPort), f.DaprURL()+"/v1.0/healthz")
		if err == nil {
			both = append(both, ms(max(d[0], d[1])))
			if s, err := proc.Read(side.cmd.Process.Pid); err == nil {
				sideRSS = append(sideRSS, mib(s.RSS))
			}
		} else {
			c.ErrorsSeen = append(c.ErrorsSeen, fmt.Sprintf("%s with its sidecar: %v", name, err))
		}
		app.stop(5 * time.Second)
		side.stop(10 * time.Second)
	}
	if len(both) > 0 {
		s, r := load.Summarize(both), load.Summarize(sideRSS)
		row.WithSidecar, row.WithSidecarRounds, row.SidecarRSSMiB = &s, both, &r
		b.log("cold start %s with its sidecar: %.0f ms (daprd RSS %.1f MiB)", name, s.Median, r.Median)
	}
	return nil
}
