package tools_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/ko/pkg/commands/options"
)

// TestKoConfig loads the repository's .ko.yaml with ko's own loader (what
// `ko resolve` runs) and checks every image is a static, stripped build
// on a distroless nonroot base.
func TestKoConfig(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".ko.yaml")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KO_CONFIG_PATH", "")
	bo := &options.BuildOptions{WorkingDirectory: root}
	if err := bo.LoadConfig(); err != nil {
		t.Fatalf("ko rejects .ko.yaml: %v", err)
	}
	if !strings.HasPrefix(bo.BaseImage, "gcr.io/distroless/static") || !strings.HasSuffix(bo.BaseImage, ":nonroot") {
		t.Errorf("base image %q: want a distroless static nonroot image", bo.BaseImage)
	}
	if !slices.Contains(bo.DefaultEnv, "CGO_ENABLED=0") {
		t.Errorf("defaultEnv %v: want CGO_ENABLED=0", bo.DefaultEnv)
	}
	if !slices.Contains(bo.DefaultFlags, "-trimpath") {
		t.Errorf("defaultFlags %v: want -trimpath", bo.DefaultFlags)
	}
	if !slices.Contains(bo.DefaultLdflags, "-s") || !slices.Contains(bo.DefaultLdflags, "-w") {
		t.Errorf("defaultLdflags %v: want -s -w", bo.DefaultLdflags)
	}
	if len(bo.BuildConfigs) != 0 {
		// Per-function entries would have to track every new function.
		t.Errorf("builds: %d entries; the defaults cover every function", len(bo.BuildConfigs))
	}
}
