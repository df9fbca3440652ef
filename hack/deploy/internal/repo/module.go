package repo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
)

// ModuleDir returns where the source of module path, at the version
// hack/deploy requires, is in the module cache, downloading it if needed.
// The owners' files that are not Go (metadata, CRDs, config maps, charts)
// are read from there, so they always match the code linked in.
func ModuleDir(path string) (string, error) {
	dir, _, err := ModuleVersion(path)
	return dir, err
}

// ModuleVersion is ModuleDir and the version hack/deploy requires.
func ModuleVersion(path string) (dir, version string, err error) {
	root, err := Root()
	if err != nil {
		return "", "", err
	}
	cmd := exec.Command("go", "mod", "download", "-json", path)
	cmd.Dir = filepath.Join(root, "hack", "deploy")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", "", fmt.Errorf("locate %s: %w", path, err)
	}
	var m struct{ Dir, Version, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", "", fmt.Errorf("locate %s: %w", path, err)
	}
	if m.Dir == "" {
		return "", "", fmt.Errorf("locate %s: not in the module cache: %s", path, m.Error)
	}
	return m.Dir, m.Version, nil
}
