package check

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dapr/dapr/pkg/acl"
	componentsv1alpha1 "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	configurationv1alpha1 "github.com/dapr/dapr/pkg/apis/configuration/v1alpha1"
	httpendpointv1alpha1 "github.com/dapr/dapr/pkg/apis/httpEndpoint/v1alpha1"
	resiliencyv1alpha1 "github.com/dapr/dapr/pkg/apis/resiliency/v1alpha1"
	subscriptionsv2alpha1 "github.com/dapr/dapr/pkg/apis/subscriptions/v2alpha1"
	daprconfig "github.com/dapr/dapr/pkg/config"
	"github.com/dapr/dapr/pkg/resiliency"
	"github.com/dapr/kit/logger"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
)

func wantAPIVersion(d manifest.Doc, want string) error {
	if d.APIVersion != want {
		return fmt.Errorf("%s: apiVersion %s, want %s", d.Ref(), d.APIVersion, want)
	}
	return nil
}

// Component decodes a Dapr Component and checks its metadata against the
// component's metadata.yaml in components-contrib.
func Component(d manifest.Doc, contrib *Contrib) (*componentsv1alpha1.Component, error) {
	if err := wantAPIVersion(d, "dapr.io/v1alpha1"); err != nil {
		return nil, err
	}
	var c componentsv1alpha1.Component
	if err := d.Decode(&c); err != nil {
		return nil, err
	}
	var errs []error
	if len(c.Scopes) == 0 {
		errs = append(errs, fmt.Errorf("%s: no scopes: every app in the namespace would load it", d.Ref()))
	}
	md := map[string]string{}
	for _, nv := range c.Spec.Metadata {
		if _, dup := md[nv.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: metadata %q set twice", d.Ref(), nv.Name))
		}
		hasValue := len(nv.Value.Raw) > 0 && string(nv.Value.Raw) != `""` && string(nv.Value.Raw) != "null"
		hasRef := nv.SecretKeyRef.Name != ""
		switch {
		case hasValue && hasRef:
			errs = append(errs, fmt.Errorf("%s: metadata %q has both a value and a secretKeyRef", d.Ref(), nv.Name))
		case hasRef && nv.SecretKeyRef.Key == "":
			errs = append(errs, fmt.Errorf("%s: metadata %q: secretKeyRef without key", d.Ref(), nv.Name))
		case !hasValue && !hasRef && nv.EnvRef == "":
			errs = append(errs, fmt.Errorf("%s: metadata %q has no value", d.Ref(), nv.Name))
		}
		v := ""
		if hasValue {
			v = nv.Value.String()
		} else if hasRef {
			v = secretPlaceholder
		}
		md[nv.Name] = v
	}
	if err := contrib.CheckMetadata(c.Spec.Type, c.Spec.Version, md); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", d.Ref(), err))
	}
	return &c, errors.Join(errs...)
}

// Subscription decodes a declarative Dapr Subscription.
func Subscription(d manifest.Doc) (*subscriptionsv2alpha1.Subscription, error) {
	if err := wantAPIVersion(d, "dapr.io/v2alpha1"); err != nil {
		return nil, err
	}
	var s subscriptionsv2alpha1.Subscription
	if err := d.Decode(&s); err != nil {
		return nil, err
	}
	var errs []error
	if s.Spec.Pubsubname == "" || s.Spec.Topic == "" {
		errs = append(errs, fmt.Errorf("%s: pubsubname and topic are required", d.Ref()))
	}
	if s.Spec.Routes.Default == "" && len(s.Spec.Routes.Rules) == 0 {
		errs = append(errs, fmt.Errorf("%s: no route", d.Ref()))
	}
	if s.Spec.DeadLetterTopic == "" {
		errs = append(errs, fmt.Errorf("%s: no deadLetterTopic", d.Ref()))
	}
	if len(s.Scopes) == 0 {
		errs = append(errs, fmt.Errorf("%s: no scopes: every app would subscribe", d.Ref()))
	}
	return &s, errors.Join(errs...)
}

// Resiliency decodes a Dapr Resiliency and loads it the way daprd does,
// which rejects unknown policy names and unparsable durations or trips.
func Resiliency(d manifest.Doc) (*resiliencyv1alpha1.Resiliency, error) {
	if err := wantAPIVersion(d, "dapr.io/v1alpha1"); err != nil {
		return nil, err
	}
	var r resiliencyv1alpha1.Resiliency
	if err := d.Decode(&r); err != nil {
		return nil, err
	}
	log := logger.NewLogger("check.resiliency")
	log.SetOutputLevel(logger.FatalLevel)
	if err := resiliency.New(log).DecodeConfiguration(&r); err != nil {
		return nil, fmt.Errorf("%s: daprd rejects it: %w", d.Ref(), err)
	}
	var errs []error
	if len(r.Scopes) == 0 {
		errs = append(errs, fmt.Errorf("%s: no scopes", d.Ref()))
	}
	// daprd only logs a target naming a policy that does not exist, and
	// runs that target without it.
	p := r.Spec.Policies
	ref := func(target, kind, name string, defined bool) {
		if name != "" && !defined {
			errs = append(errs, fmt.Errorf("%s: %s uses %s policy %q, which is not defined", d.Ref(), target, kind, name))
		}
	}
	names := func(target string, timeout, retry, cb string) {
		_, okT := p.Timeouts[timeout]
		_, okR := p.Retries[retry]
		_, okC := p.CircuitBreakers[cb]
		ref(target, "timeout", timeout, okT)
		ref(target, "retry", retry, okR)
		ref(target, "circuitBreaker", cb, okC)
	}
	for app, n := range r.Spec.Targets.Apps {
		names("app "+app, n.Timeout, n.Retry, n.CircuitBreaker)
	}
	for actor, n := range r.Spec.Targets.Actors {
		names("actor "+actor, n.Timeout, n.Retry, n.CircuitBreaker)
	}
	for comp, n := range r.Spec.Targets.Components {
		names("component "+comp+" outbound", n.Outbound.Timeout, n.Outbound.Retry, n.Outbound.CircuitBreaker)
		names("component "+comp+" inbound", n.Inbound.Timeout, n.Inbound.Retry, n.Inbound.CircuitBreaker)
	}
	return &r, errors.Join(errs...)
}

// Configuration decodes a Dapr Configuration, loads it as daprd loads a
// configuration file, and parses its access control list.
func Configuration(d manifest.Doc) (*configurationv1alpha1.Configuration, error) {
	if err := wantAPIVersion(d, "dapr.io/v1alpha1"); err != nil {
		return nil, err
	}
	var c configurationv1alpha1.Configuration
	if err := d.Decode(&c); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dapr-config")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(f, d.Raw, 0o600); err != nil {
		return nil, err
	}
	rc, err := daprconfig.LoadStandaloneConfiguration(f)
	if err != nil {
		return nil, fmt.Errorf("%s: daprd rejects it: %w", d.Ref(), err)
	}
	if _, err := acl.ParseAccessControlSpec(rc.Spec.AccessControlSpec, true); err != nil {
		return nil, fmt.Errorf("%s: access control: %w", d.Ref(), err)
	}
	return &c, nil
}

// HTTPEndpoint decodes a Dapr HTTPEndpoint.
func HTTPEndpoint(d manifest.Doc) (*httpendpointv1alpha1.HTTPEndpoint, error) {
	if err := wantAPIVersion(d, "dapr.io/v1alpha1"); err != nil {
		return nil, err
	}
	var h httpendpointv1alpha1.HTTPEndpoint
	if err := d.Decode(&h); err != nil {
		return nil, err
	}
	var errs []error
	if !strings.HasPrefix(h.Spec.BaseURL, "http://") && !strings.HasPrefix(h.Spec.BaseURL, "https://") {
		errs = append(errs, fmt.Errorf("%s: baseUrl %q is not an http(s) URL", d.Ref(), h.Spec.BaseURL))
	}
	if len(h.Scopes) == 0 {
		errs = append(errs, fmt.Errorf("%s: no scopes: every app would route this app-id to it", d.Ref()))
	}
	for _, hd := range h.Spec.Headers {
		if hd.SecretKeyRef.Name == "" && slices.Contains([]string{"dapr-api-token", "authorization"}, strings.ToLower(hd.Name)) {
			errs = append(errs, fmt.Errorf("%s: header %s must come from a secretKeyRef", d.Ref(), hd.Name))
		}
	}
	return &h, errors.Join(errs...)
}
