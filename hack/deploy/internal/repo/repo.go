// Package repo finds the repository the deployment belongs to.
package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Module is the root module's path.
const Module = "github.com/todo-chatbot/functions"

// Root walks up from the working directory to the directory whose go.mod
// declares the root module.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && ModulePath(data) == Module {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the " + Module + " repository")
		}
		dir = parent
	}
}

// ModulePath returns the module path a go.mod declares.
func ModulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}
