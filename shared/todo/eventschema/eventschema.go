// Package eventschema checks event data against the published JSON
// Schemas (draft 2020-12) of the events the functions emit. The schemas in
// schemas/ are the source of truth; docs/events describes them.
package eventschema

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// BaseURL is where the schemas' $ids live; schemas refer to each other
// relative to it.
const BaseURL = "https://schemas.todo-chatbot.example/events/"

// ErrUnknownType is returned for an event type that has no schema.
var ErrUnknownType = errors.New("eventschema: no schema for event type")

//go:embed schemas/*.json
var files embed.FS

type compiled struct {
	schemas map[string]*jsonschema.Schema
	types   []string
}

// load compiles every schema once. A schema that does not compile is a
// bug in this package, reported by every call.
var load = sync.OnceValues(func() (*compiled, error) {
	entries, err := files.ReadDir("schemas")
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	var types []string
	for _, e := range entries {
		b, err := files.ReadFile(path.Join("schemas", e.Name()))
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("eventschema: %s: %w", e.Name(), err)
		}
		if err := c.AddResource(BaseURL+e.Name(), doc); err != nil {
			return nil, fmt.Errorf("eventschema: %s: %w", e.Name(), err)
		}
		// Event schemas are named after their event type; the rest hold
		// shared definitions.
		if strings.HasPrefix(e.Name(), "com.") {
			types = append(types, strings.TrimSuffix(e.Name(), ".json"))
		}
	}
	out := &compiled{schemas: map[string]*jsonschema.Schema{}, types: types}
	for _, t := range types {
		s, err := c.Compile(BaseURL + t + ".json")
		if err != nil {
			return nil, fmt.Errorf("eventschema: %s: %w", t, err)
		}
		out.schemas[t] = s
	}
	return out, nil
})

// Types returns the event types that have a schema, sorted.
func Types() []string {
	c, err := load()
	if err != nil {
		return nil
	}
	return slices.Sorted(slices.Values(c.types))
}

// Schema returns the schema document of eventType as published.
func Schema(eventType string) ([]byte, error) {
	b, err := files.ReadFile(path.Join("schemas", eventType+".json"))
	if err != nil || !strings.HasPrefix(eventType, "com.") {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, eventType)
	}
	return b, nil
}

// Validate checks that data, the JSON data of an event of eventType, is
// exactly one JSON value that matches the type's schema. The error says
// every way in which it does not.
func Validate(eventType string, data []byte) error {
	c, err := load()
	if err != nil {
		return err
	}
	s, ok := c.schemas[eventType]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownType, eventType)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("eventschema: %s data is not JSON: %w", eventType, err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("eventschema: %s data: %w", eventType, err)
	}
	return nil
}
