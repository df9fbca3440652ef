// Command changed prints, as JSON, which functions a change touches and
// whether the shared Dapr resources did:
//
//	changed -base <rev> -head <rev>      # files from git diff
//	changed -files list.txt              # one path per line ("-": stdin)
//
// With -github-output it also appends functions=<json> and platform=<bool>
// to that file (GitHub Actions step outputs).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/todo-chatbot/functions/hack/deploy/internal/changed"
	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

func main() {
	base := flag.String("base", "", "revision before the change (empty or all zeros: everything changed)")
	head := flag.String("head", "HEAD", "revision after the change")
	filesFrom := flag.String("files", "", "read changed paths from this file instead of git (\"-\": stdin)")
	ghOut := flag.String("github-output", "", "append step outputs to this file")
	flag.Parse()
	if err := run(*base, *head, *filesFrom, *ghOut); err != nil {
		fmt.Fprintln(os.Stderr, "changed:", err)
		os.Exit(1)
	}
}

func run(base, head, filesFrom, ghOut string) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	r, err := changed.Load(root)
	if err != nil {
		return err
	}
	var res changed.Result
	if filesFrom != "" {
		files, err := readList(filesFrom)
		if err != nil {
			return err
		}
		res = r.Select(files, changed.ReadWorktree(root))
	} else {
		files, ok, err := changed.Diff(root, base, head)
		if err != nil {
			return err
		}
		if !ok {
			res = r.All()
		} else {
			res = r.Select(files, changed.ReadRev(root, head))
		}
	}
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	if ghOut != "" {
		fns, _ := json.Marshal(res.Functions)
		f, err := os.OpenFile(ghOut, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := fmt.Fprintf(f, "functions=%s\nplatform=%t\n", fns, res.Platform); err != nil {
			return err
		}
	}
	return nil
}

func readList(name string) ([]string, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var files []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			files = append(files, l)
		}
	}
	return files, sc.Err()
}
