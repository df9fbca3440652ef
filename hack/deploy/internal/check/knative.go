package check

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingconfig "knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
)

// admissionContext is the context Knative's admission webhooks validate a
// new object in: a create, with the cluster's config maps at their
// defaults (what serving's webhook attaches with its config store).
func admissionContext() context.Context {
	ctx := apis.WithinCreate(context.Background())
	return servingconfig.ToContext(ctx, servingconfig.FromContextOrDefaults(ctx))
}

// KnativeService decodes a serving.knative.dev/v1 Service and runs the
// defaulting and validation its webhook runs.
func KnativeService(d manifest.Doc) (*servingv1.Service, error) {
	var svc servingv1.Service
	if err := d.Decode(&svc); err != nil {
		return nil, err
	}
	ctx := admissionContext()
	svc.SetDefaults(ctx)
	if fe := svc.Validate(ctx); fe != nil {
		return nil, fmt.Errorf("%s: Knative rejects it: %w", d.Ref(), fe)
	}
	return &svc, nil
}

// PingSource decodes a sources.knative.dev/v1 PingSource and runs its
// defaulting and validation.
func PingSource(d manifest.Doc) (*sourcesv1.PingSource, error) {
	var ps sourcesv1.PingSource
	if err := d.Decode(&ps); err != nil {
		return nil, err
	}
	ctx := apis.WithinParent(admissionContext(), ps.ObjectMeta)
	ps.SetDefaults(ctx)
	if fe := ps.Validate(ctx); fe != nil {
		return nil, fmt.Errorf("%s: Knative rejects it: %w", d.Ref(), fe)
	}
	return &ps, nil
}

// KafkaSource mirrors sources.knative.dev/v1beta1 KafkaSource from
// knative.dev/eventing-kafka-broker, whose module is not available here.
// Its parts that come from modules that are (sink, delivery, secret
// references) use the real types.
type KafkaSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KafkaSourceSpec `json:"spec"`
}

// KafkaSourceSpec is the spec of a KafkaSource.
type KafkaSourceSpec struct {
	Consumers         *int32                       `json:"consumers,omitempty"`
	BootstrapServers  []string                     `json:"bootstrapServers"`
	Net               KafkaNet                     `json:"net,omitempty"`
	Topics            []string                     `json:"topics"`
	ConsumerGroup     string                       `json:"consumerGroup,omitempty"`
	InitialOffset     string                       `json:"initialOffset,omitempty"`
	Delivery          *eventingduckv1.DeliverySpec `json:"delivery,omitempty"`
	Ordering          *string                      `json:"ordering,omitempty"`
	duckv1.SourceSpec `json:",inline"`
}

// KafkaNet is how a KafkaSource authenticates.
type KafkaNet struct {
	SASL struct {
		Enable   bool        `json:"enable,omitempty"`
		User     SecretValue `json:"user,omitempty"`
		Password SecretValue `json:"password,omitempty"`
		Type     SecretValue `json:"type,omitempty"`
	} `json:"sasl,omitempty"`
	TLS struct {
		Enable bool        `json:"enable,omitempty"`
		Cert   SecretValue `json:"cert,omitempty"`
		Key    SecretValue `json:"key,omitempty"`
		CACert SecretValue `json:"caCert,omitempty"`
	} `json:"tls,omitempty"`
}

// SecretValue is a value taken from a Kubernetes secret.
type SecretValue struct {
	SecretKeyRef *corev1.SecretKeySelector `json:"secretKeyRef,omitempty"`
}

func (s SecretValue) set() bool { return s.SecretKeyRef != nil }

func (s SecretValue) validate(field string) *apis.FieldError {
	if s.SecretKeyRef == nil {
		return nil
	}
	var errs *apis.FieldError
	if s.SecretKeyRef.Name == "" {
		errs = errs.Also(apis.ErrMissingField(field + ".secretKeyRef.name"))
	}
	if s.SecretKeyRef.Key == "" {
		errs = errs.Also(apis.ErrMissingField(field + ".secretKeyRef.key"))
	}
	return errs
}

// KafkaSourceDoc decodes a KafkaSource and checks what the Kafka source's
// webhook checks (KafkaSourceSpec.Validate after defaulting), plus that
// SASL and TLS name where their secrets are.
func KafkaSourceDoc(d manifest.Doc) (*KafkaSource, error) {
	if d.APIVersion != "sources.knative.dev/v1beta1" {
		return nil, fmt.Errorf("%s: apiVersion %s, want sources.knative.dev/v1beta1", d.Ref(), d.APIVersion)
	}
	var ks KafkaSource
	if err := d.Decode(&ks); err != nil {
		return nil, err
	}
	ctx := apis.WithinParent(admissionContext(), ks.ObjectMeta)
	s := &ks.Spec
	// Defaults, as kafka_defaults.go sets them.
	if s.InitialOffset == "" {
		s.InitialOffset = "latest"
	}
	if s.Consumers == nil {
		one := int32(1)
		s.Consumers = &one
	}
	if s.Sink.Ref != nil && s.Sink.Ref.Namespace == "" {
		s.Sink.Ref.Namespace = ks.Namespace
	}
	if s.Delivery != nil {
		s.Delivery.SetDefaults(ctx)
	}

	var errs *apis.FieldError
	errs = errs.Also(s.SourceSpec.Validate(ctx))
	if len(s.Topics) == 0 {
		errs = errs.Also(apis.ErrMissingField("topics"))
	}
	if len(s.BootstrapServers) == 0 {
		errs = errs.Also(apis.ErrMissingField("bootstrapServers"))
	}
	if !slices.Contains([]string{"earliest", "latest"}, s.InitialOffset) {
		errs = errs.Also(apis.ErrInvalidValue(s.InitialOffset, "initialOffset"))
	}
	if s.Ordering != nil && !slices.Contains([]string{"ordered", "unordered"}, *s.Ordering) {
		errs = errs.Also(apis.ErrInvalidValue(*s.Ordering, "ordering"))
	}
	if s.Consumers != nil && *s.Consumers < 1 {
		errs = errs.Also(apis.ErrInvalidValue(*s.Consumers, "consumers"))
	}
	if s.Delivery != nil {
		errs = errs.Also(s.Delivery.Validate(ctx).ViaField("delivery"))
	}
	if s.ConsumerGroup == "" {
		// The webhook would generate one; a fixed one keeps offsets across
		// re-creation and is what the docs point operators at.
		errs = errs.Also(apis.ErrMissingField("consumerGroup"))
	}
	sasl, tls := s.Net.SASL, s.Net.TLS
	errs = errs.Also(sasl.User.validate("net.sasl.user"), sasl.Password.validate("net.sasl.password"),
		sasl.Type.validate("net.sasl.type"), tls.Cert.validate("net.tls.cert"),
		tls.Key.validate("net.tls.key"), tls.CACert.validate("net.tls.caCert"))
	if sasl.Enable && (!sasl.User.set() || !sasl.Password.set()) {
		errs = errs.Also(apis.ErrMissingField("net.sasl.user", "net.sasl.password"))
	}
	if tls.Cert.set() != tls.Key.set() {
		errs = errs.Also(apis.ErrMissingField("net.tls.cert", "net.tls.key"))
	}
	if fe := errs.ViaField("spec"); fe != nil {
		return nil, fmt.Errorf("%s: %w", d.Ref(), fe)
	}
	return &ks, nil
}
