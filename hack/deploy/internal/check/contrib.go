package check

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	contribmetadata "github.com/dapr/components-contrib/metadata"
	"sigs.k8s.io/yaml"

	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

// secretPlaceholder stands for a value that comes from a secret: present,
// but not known here.
const secretPlaceholder = "\x00secret"

// ComponentMetadata is the part of a components-contrib metadata.yaml
// (schema: component-metadata-schema.json) the checks use.
type ComponentMetadata struct {
	SchemaVersion                 string                        `json:"schemaVersion"`
	Type                          string                        `json:"type"`
	Name                          string                        `json:"name"`
	Version                       string                        `json:"version"`
	Capabilities                  []string                      `json:"capabilities"`
	Metadata                      []MetadataField               `json:"metadata"`
	AuthenticationProfiles        []AuthProfile                 `json:"authenticationProfiles"`
	BuiltinAuthenticationProfiles []BuiltinAuthProfile          `json:"builtinAuthenticationProfiles"`
	Binding                       *struct{ Input, Output bool } `json:"binding"`
}

// MetadataField is one documented metadata key.
type MetadataField struct {
	Name          string   `json:"name"`
	Required      bool     `json:"required"`
	Type          string   `json:"type"`
	AllowedValues []string `json:"allowedValues"`
	Deprecated    bool     `json:"deprecated"`
}

// AuthProfile is one way to authenticate, with the keys it needs.
type AuthProfile struct {
	Title    string          `json:"title"`
	Metadata []MetadataField `json:"metadata"`
}

// BuiltinAuthProfile imports one of Dapr's shared authentication profiles
// (aws, azuread, gcp); only the extra keys it lists are known here.
type BuiltinAuthProfile struct {
	Name     string          `json:"name"`
	Metadata []MetadataField `json:"metadata"`
}

// Contrib reads metadata.yaml files from a components-contrib source tree.
type Contrib struct {
	Dir string
}

var (
	contribOnce sync.Once
	contrib     *Contrib
	contribErr  error
)

// ContribModule finds the components-contrib module this module requires
// (its source, with every metadata.yaml, is in the module cache).
func ContribModule() (*Contrib, error) {
	contribOnce.Do(func() {
		// Resolved in hack/deploy, which pins the version daprd is built with.
		dir, err := repo.ModuleDir("github.com/dapr/components-contrib")
		if err != nil {
			contribErr = err
			return
		}
		contrib = &Contrib{Dir: dir}
	})
	return contrib, contribErr
}

// Load reads the metadata.yaml for a component type ("pubsub.kafka") and
// version ("v1").
func (c *Contrib) Load(typ, version string) (*ComponentMetadata, error) {
	category, name, ok := strings.Cut(typ, ".")
	if !ok {
		return nil, fmt.Errorf("type %q is not <category>.<name>", typ)
	}
	base := filepath.Join(c.Dir, category, filepath.FromSlash(strings.ReplaceAll(name, ".", "/")))
	var tried []string
	for _, p := range []string{filepath.Join(base, version, "metadata.yaml"), filepath.Join(base, "metadata.yaml")} {
		data, err := os.ReadFile(p)
		if err != nil {
			tried = append(tried, p)
			continue
		}
		var m ComponentMetadata
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if m.Version != version {
			return nil, fmt.Errorf("%s %s: components-contrib documents version %s only", typ, version, m.Version)
		}
		if contribmetadata.ComponentType(m.Type) != contribmetadata.ComponentType(category) {
			return nil, fmt.Errorf("%s: type %s, want %s", p, m.Type, category)
		}
		return &m, nil
	}
	return nil, fmt.Errorf("no metadata.yaml for %s %s (tried %s)", typ, version, strings.Join(tried, ", "))
}

// aliases collects the deprecated key names the component's Go metadata
// struct still accepts (mdaliases / mapstructurealiases struct tags).
func (c *Contrib) aliases(typ string) map[string]bool {
	category, name, _ := strings.Cut(typ, ".")
	rel := filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))
	dirs := []string{filepath.Join(c.Dir, category, rel), filepath.Join(c.Dir, "common", "component", rel)}
	re := regexp.MustCompile(`(?:mdaliases|mapstructurealiases):"([^"]+)"`)
	out := map[string]bool{}
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for _, m := range re.FindAllSubmatch(src, -1) {
				for _, a := range strings.Split(string(m[1]), ",") {
					out[strings.TrimSpace(a)] = true
				}
			}
			return nil
		})
	}
	return out
}

// runtimeKeys are metadata keys daprd itself reads, per component category,
// beyond what components-contrib lists as built in.
var runtimeKeys = map[string][]string{
	"pubsub":   {"consumerID", "allowedTopics", "publishingScopes", "subscriptionScopes", "protectedTopics"},
	"bindings": {"direction", "route"},
	"state":    {"outboxPublishPubsub", "outboxPublishTopic", "outboxPubsub", "outboxDiscardWhenMissingState"},
}

// CheckMetadata checks a component's metadata keys and literal values:
// every required key set, every key known to components-contrib or to
// daprd, allowed values respected, and, when the component documents
// authentication profiles, one profile's required keys all set.
func (c *Contrib) CheckMetadata(typ, version string, md map[string]string) error {
	m, err := c.Load(typ, version)
	if err != nil {
		return err
	}
	category, _, _ := strings.Cut(typ, ".")
	known := map[string]MetadataField{}
	// The first definition of a key wins (the component's own list comes
	// first); a key several profiles share (authType) takes any of their
	// allowed values.
	add := func(f MetadataField) {
		k := strings.ToLower(f.Name)
		prev, ok := known[k]
		if !ok {
			known[k] = f
			return
		}
		if len(prev.AllowedValues) == 0 || len(f.AllowedValues) == 0 {
			prev.AllowedValues = nil
		} else {
			prev.AllowedValues = append(slices.Clone(prev.AllowedValues), f.AllowedValues...)
		}
		known[k] = prev
	}
	for _, f := range m.Metadata {
		add(f)
	}
	for _, p := range m.AuthenticationProfiles {
		for _, f := range p.Metadata {
			add(f)
		}
	}
	for _, p := range m.BuiltinAuthenticationProfiles {
		for _, f := range p.Metadata {
			add(f)
		}
	}
	builtin := contribmetadata.ComponentType(category).BuiltInMetadataProperties()
	if !slices.Contains(m.Capabilities, "actorStateStore") {
		builtin = slices.DeleteFunc(slices.Clone(builtin), func(s string) bool { return s == "actorStateStore" })
	}
	builtin = append(builtin, runtimeKeys[category]...)
	for _, k := range builtin {
		if _, ok := known[strings.ToLower(k)]; !ok {
			known[strings.ToLower(k)] = MetadataField{Name: k}
		}
	}
	aliases := c.aliases(typ)

	var errs []error
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// daprd matches metadata keys case-insensitively.
		f, ok := known[strings.ToLower(k)]
		if !ok {
			if aliases[k] {
				continue
			}
			errs = append(errs, fmt.Errorf("%s %s: unknown metadata key %q", typ, version, k))
			continue
		}
		if f.Deprecated {
			errs = append(errs, fmt.Errorf("%s %s: metadata key %q is deprecated", typ, version, k))
		}
		if err := checkValue(f, md[k]); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: metadata %q: %w", typ, version, k, err))
		}
	}
	for _, f := range m.Metadata {
		if f.Required && !hasKey(md, f.Name) {
			errs = append(errs, fmt.Errorf("%s %s: required metadata key %q missing", typ, version, f.Name))
		}
	}
	if len(m.AuthenticationProfiles) > 0 {
		var misses []string
		satisfied := false
		for _, p := range m.AuthenticationProfiles {
			var missing []string
			for _, f := range p.Metadata {
				if !f.Required {
					continue
				}
				v, ok := lookup(md, f.Name)
				if !ok || checkValue(f, v) != nil {
					missing = append(missing, f.Name)
				}
			}
			if len(missing) == 0 {
				satisfied = true
				break
			}
			misses = append(misses, fmt.Sprintf("%q needs %s", p.Title, strings.Join(missing, ", ")))
		}
		if !satisfied {
			errs = append(errs, fmt.Errorf("%s %s: no authentication profile is complete: %s", typ, version, strings.Join(misses, "; ")))
		}
	}
	return errors.Join(errs...)
}

func lookup(md map[string]string, key string) (string, bool) {
	for k, v := range md {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func hasKey(md map[string]string, key string) bool {
	_, ok := lookup(md, key)
	return ok
}

// checkValue checks a literal value against the documented type and
// allowed values. Values from secrets are not known and pass.
func checkValue(f MetadataField, v string) error {
	if v == secretPlaceholder {
		return nil
	}
	if len(f.AllowedValues) > 0 && !slices.Contains(f.AllowedValues, v) {
		return fmt.Errorf("%q is not one of %s", v, strings.Join(f.AllowedValues, ", "))
	}
	switch f.Type {
	case "bool":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%q is not a bool", v)
		}
	case "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
	case "duration":
		// Dapr also takes a plain number (of seconds or milliseconds,
		// depending on the component).
		if _, err := time.ParseDuration(v); err != nil {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return fmt.Errorf("%q is not a duration", v)
			}
		}
	}
	return nil
}
