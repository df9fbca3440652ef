package check

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
)

// credentialKey matches names that hold credentials (after lowercasing
// and dropping "-", "_" and "."): saslPassword, APP_API_TOKEN,
// connectionString, clientKey, ...
var credentialKey = regexp.MustCompile(`pass(word|wd)?$|password|secret|token|apikey|accesskey|privatekey|clientkey|connectionstring|credential|bearer|authorization`)

// referenceKeys hold the name of a secret, never its value.
var referenceKeys = map[string]bool{
	"daprioapitokensecret": true, // dapr.io/api-token-secret
	"daprioapptokensecret": true, // dapr.io/app-token-secret
	"secretstore":          true,
	"secretname":           true,
	"storename":            true,
	"securitytokenheader":  true,
}

func normalizeKey(k string) string {
	return strings.NewReplacer("-", "", "_", "", ".", "", "/", "").Replace(strings.ToLower(k))
}

// LiteralSecrets reports every credential-looking key in the document that
// has a literal value instead of a reference to a secret, and any
// Kubernetes Secret object.
func LiteralSecrets(d manifest.Doc) []error {
	var errs []error
	if d.Group() == "" && d.Kind == "Secret" {
		return []error{fmt.Errorf("%s: a Secret does not belong in the repository", d.Ref())}
	}
	walkSecrets(d.Object, "", func(path, key string) {
		errs = append(errs, fmt.Errorf("%s: %s (%s) has a literal value: use a secretKeyRef", d.Ref(), path, key))
	})
	return errs
}

func walkSecrets(v any, path string, report func(path, key string)) {
	switch v := v.(type) {
	case map[string]any:
		// A {name: X, value: V} pair (Dapr metadata, env, headers) is key X.
		if name, ok := v["name"].(string); ok {
			if val, ok := v["value"]; ok && isLiteral(val) && isCredential(name) {
				report(path+".value", name)
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := v[k]
			p := path + "." + k
			if k == "secretKeyRef" || k == "valueFrom" {
				continue
			}
			if isLiteral(child) && isCredential(k) {
				report(p, k)
				continue
			}
			walkSecrets(child, p, report)
		}
	case []any:
		for i, e := range v {
			walkSecrets(e, fmt.Sprintf("%s[%d]", path, i), report)
		}
	}
}

func isCredential(key string) bool {
	n := normalizeKey(key)
	return !referenceKeys[n] && credentialKey.MatchString(n)
}

// isLiteral is true for a scalar that could be a credential: not empty,
// not a switch (dapr.io/disable-builtin-k8s-secret-store: "true").
func isLiteral(v any) bool {
	switch v := v.(type) {
	case string:
		return v != "" && v != "true" && v != "false"
	case float64:
		return true
	}
	return false
}
