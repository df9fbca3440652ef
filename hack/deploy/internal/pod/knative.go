package pod

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/system"
	servingconfig "knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	confresources "knative.dev/serving/pkg/reconciler/configuration/resources"
	revconfig "knative.dev/serving/pkg/reconciler/revision/config"
	revresources "knative.dev/serving/pkg/reconciler/revision/resources"
	svcresources "knative.dev/serving/pkg/reconciler/service/resources"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

// ServingModule is the Knative Serving module whose controller code builds
// the Deployment, and whose release config maps configure it.
const ServingModule = "knative.dev/serving"

// ServingNamespace is where Knative Serving is installed, as released.
const ServingNamespace = "knative-serving"

// Knative is how Knative Serving is configured in the cluster: the config
// maps its revision reconciler reads.
type Knative struct {
	Version    string // of knative.dev/serving, whose code builds the Deployment
	Namespace  string // Serving's own: its config maps'
	ConfigMaps []*corev1.ConfigMap
	cfg        *revconfig.Config
	api        *servingconfig.Config
}

// KnativeDefaults is Knative Serving as released: the config maps of the
// pinned knative.dev/serving (config/core/configmaps), and, for those it
// does not ship (config-network comes with the networking layer), empty
// ones, which mean the defaults.
func KnativeDefaults() (*Knative, error) {
	dir, version, err := repo.ModuleVersion(ServingModule)
	if err != nil {
		return nil, err
	}
	docs, err := manifest.ParseTree(filepath.Join(dir, "config", "core", "configmaps"))
	if err != nil {
		return nil, err
	}
	var cms []*corev1.ConfigMap
	for _, d := range docs {
		if d.Kind != "ConfigMap" {
			continue
		}
		var cm corev1.ConfigMap
		if err := d.Decode(&cm); err != nil {
			return nil, err
		}
		cms = append(cms, &cm)
	}
	k, err := NewKnative(cms...)
	if err != nil {
		return nil, err
	}
	k.Version = version
	return k, nil
}

// NewKnative loads the config maps as the revision reconciler's config
// store does; a config map it watches that is not given is empty.
func NewKnative(cms ...*corev1.ConfigMap) (*Knative, error) {
	logger := zap.NewNop().Sugar()
	store := revconfig.NewStore(logger)
	apiStore := servingconfig.NewStore(logger)
	have := map[string]bool{}
	for _, cm := range cms {
		have[cm.Name] = true
		if cm.Namespace != ServingNamespace {
			return nil, fmt.Errorf("config map %s is in namespace %s, not %s", cm.Name, cm.Namespace, ServingNamespace)
		}
	}
	all := append([]*corev1.ConfigMap(nil), cms...)
	for _, name := range watched(store, apiStore) {
		if !have[name] {
			all = append(all, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ServingNamespace}})
		}
	}
	var err error
	func() {
		// The stores panic on a config map they cannot parse (in the
		// controller, at start-up); here that is an error.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("knative config maps: %v", r)
			}
		}()
		w := configmap.NewStaticWatcher(all...)
		store.WatchConfigs(w)
		apiStore.WatchConfigs(w)
	}()
	if err != nil {
		return nil, err
	}
	return &Knative{Namespace: ServingNamespace, ConfigMaps: cms, cfg: store.Load(), api: apiStore.Load()}, nil
}

// watched lists the config maps the stores read.
func watched(stores ...interface{ WatchConfigs(configmap.Watcher) }) []string {
	rec := &recorder{}
	for _, s := range stores {
		s.WatchConfigs(rec)
	}
	return rec.names
}

type recorder struct{ names []string }

func (r *recorder) Watch(name string, _ ...configmap.Observer)             { r.names = append(r.names, name) }
func (r *recorder) ForEach(func(string, []configmap.Observer) error) error { return nil }
func (r *recorder) Start(<-chan struct{}) error                            { return nil }

// Deployment builds what Knative Serving's controllers make of a Service:
// the Configuration (service reconciler), its Revision (configuration
// reconciler, then the webhook's defaulting when it is created) and the
// Revision's Deployment, queue-proxy included (revision reconciler).
func (k *Knative) Deployment(svc *servingv1.Service) (*servingv1.Revision, *appsv1.Deployment, error) {
	ctx := servingconfig.ToContext(apis.WithinCreate(context.Background()), k.api)
	svc = svc.DeepCopy()
	svc.SetDefaults(ctx)
	cfg := svcresources.MakeConfiguration(svc)
	cfg.Generation = 1 // as the API server sets it on create: the Revision is <name>-00001
	cfg.SetDefaults(ctx)
	rev := confresources.MakeRevision(ctx, cfg, time.Unix(0, 0).UTC())
	rev.SetDefaults(ctx)
	if fe := rev.Validate(ctx); fe != nil {
		return nil, nil, fmt.Errorf("Knative rejects the Revision: %w", fe)
	}
	// queue-proxy is told the namespace Serving runs in, which the
	// controller reads from its own environment.
	var d *appsv1.Deployment
	err := withEnv(map[string]string{system.NamespaceEnvKey: k.Namespace}, func() (err error) {
		d, err = revresources.MakeDeployment(rev, k.cfg)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return rev, d, nil
}
