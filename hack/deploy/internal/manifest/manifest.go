// Package manifest reads multi-document Kubernetes YAML and decodes
// documents strictly into API types.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Doc is one YAML document.
type Doc struct {
	Source string // file (or template) it came from, for messages
	Index  int    // position in Source, from 0
	Raw    []byte // the document's text
	JSON   []byte // the document as JSON

	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	Labels     map[string]string
	Object     map[string]any
}

// Ref names the document in messages.
func (d Doc) Ref() string {
	return fmt.Sprintf("%s[%d] %s %s", d.Source, d.Index, d.Kind, d.Name)
}

// Group is the API group of the document's apiVersion ("" for core).
func (d Doc) Group() string {
	g, _, ok := strings.Cut(d.APIVersion, "/")
	if !ok {
		return ""
	}
	return g
}

// Parse splits data into documents, skipping empty ones. Duplicate keys
// are errors, as they are for the API server.
func Parse(source string, data []byte) ([]Doc, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []Doc
	for i := 0; ; i++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		j, err := yaml.YAMLToJSONStrict(raw)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", source, i, err)
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(j, &obj); err != nil {
			return nil, fmt.Errorf("%s[%d]: not an object: %w", source, i, err)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string            `json:"name"`
				Namespace string            `json:"namespace"`
				Labels    map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(j, &head); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", source, i, err)
		}
		docs = append(docs, Doc{
			Source: source, Index: len(docs), Raw: raw, JSON: j,
			APIVersion: head.APIVersion, Kind: head.Kind,
			Name: head.Metadata.Name, Namespace: head.Metadata.Namespace,
			Labels: head.Metadata.Labels, Object: obj,
		})
	}
}

// ParseFile reads and parses one file.
func ParseFile(path string) ([]Doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// ParseTree parses every .yaml/.yml file under dir, in path order.
func ParseTree(dir string) ([]Doc, error) {
	files, err := YAMLFiles(dir)
	if err != nil {
		return nil, err
	}
	var docs []Doc
	for _, f := range files {
		d, err := ParseFile(f)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

// YAMLFiles lists the .yaml/.yml files under dir, sorted.
func YAMLFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// Decode decodes the document into out, rejecting fields out does not have
// (what `kubectl apply --validate=strict` and the API server do).
func (d Doc) Decode(out any) error {
	dec := json.NewDecoder(bytes.NewReader(d.JSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s: %w", d.Ref(), err)
	}
	return nil
}
