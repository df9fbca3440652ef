// Command scale measures how the task layout's costs follow the data:
// create, list and sweep latency on stores seeded with growing numbers of
// users, and with growing task lists of one user, on SQLite and on
// PostgreSQL. It seeds through taskstore.Import (Dapr transactions, many
// users each), then drives create-task, list-tasks and sweep-reminders
// over HTTP as the Chat API and the cron binding do. `make bench-scale`
// runs it and writes docs/benchmarks-scale.{md,json,png}; sizes are flags.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

func main() {
	users := flag.String("users", "1000,10000,100000", "store sizes in users (one task each), comma-separated, growing")
	tasks := flag.String("tasks", "10,1000,10000", "one user's list sizes, comma-separated")
	stores := flag.String("stores", "sqlite,postgres", "stores to measure: sqlite, postgres")
	out := flag.String("out", "docs", "folder for benchmarks-scale.md, .json and .png")
	keep := flag.Bool("keep", false, "keep each stack's folder (logs, data)")
	rate := flag.Float64("rate", 100, "creates per second of new users, open loop")
	flag.Parse()
	cfg := config{Due: 20, Creates: 300, Rate: *rate, Lists: 100}
	var err error
	if cfg.Users, err = sizes(*users); err != nil {
		log.Fatal(err)
	}
	if cfg.Tasks, err = sizes(*tasks); err != nil {
		log.Fatal(err)
	}
	root, err := devstack.RepoRoot()
	if err != nil {
		log.Fatal(err)
	}
	rep := report{Started: time.Now().UTC(), Config: cfg}
	for _, s := range strings.Split(*stores, ",") {
		st, err := start(root, s, *keep)
		if err != nil {
			log.Fatalf("%s: %v", s, err)
		}
		res, err := st.measure(context.Background(), cfg)
		st.close()
		if err != nil {
			log.Fatalf("%s: %v", s, err)
		}
		rep.Stores = append(rep.Stores, res)
	}
	rep.Took = time.Since(rep.Started).Round(time.Second).String()
	if err := rep.write(*out); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s", filepath.Join(*out, "benchmarks-scale.{md,json,png}"))
}

func sizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("size %q: a positive integer", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("sizes %q must grow", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// config is what one run measures at each size.
type config struct {
	Users   []int   `json:"users"`
	Tasks   []int   `json:"tasks"`
	Due     int     `json:"due_reminders_per_sweep"` // the same at every size
	Creates int     `json:"creates_of_new_users"`    // per size, open loop at Rate
	Rate    float64 `json:"create_rate_per_s"`
	Lists   int     `json:"lists_per_query"`
}

func dropTables(prefix string) {
	q := fmt.Sprintf(`DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables WHERE tablename LIKE '%s%%' LOOP EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(r.tablename); END LOOP; END $$`, prefix)
	_ = exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", q).Run()
}

func randomHex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rand.IntN(16)]
	}
	return string(b)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
