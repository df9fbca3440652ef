package pod

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	injectorconsts "github.com/dapr/dapr/pkg/injector/consts"
	"github.com/dapr/dapr/pkg/injector/patcher"
	injectorservice "github.com/dapr/dapr/pkg/injector/service"
	jsonpatch "github.com/evanphx/json-patch/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
	"github.com/todo-chatbot/functions/hack/deploy/internal/render"
	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

// DaprModule is the Dapr module whose injector code patches the pod: the
// release daprd is built from (hack/dapr pins the same version).
const DaprModule = "github.com/dapr/dapr"

// DaprNamespace is where Dapr's control plane is installed.
const DaprNamespace = "dapr-system"

// Injector is Dapr's sidecar injector as Dapr's own Helm chart installs it.
type Injector struct {
	Version string // of dapr/dapr, whose code patches the pod
	// Env is the injector container's environment in the chart's render:
	// its whole configuration.
	Env    map[string]string
	config injectorservice.Config
}

// envMu guards the process environment, through which alone Dapr's
// injector reads its configuration and Knative's reconciler its namespace.
var envMu sync.Mutex

// withEnv runs f with env set in the process environment, then restores it.
func withEnv(env map[string]string, f func() error) error {
	envMu.Lock()
	defer envMu.Unlock()
	for k, v := range env {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		if had {
			defer os.Setenv(k, old)
		} else {
			defer os.Unsetenv(k)
		}
	}
	return f()
}

// DaprChart renders the pinned dapr/dapr's Helm chart (charts/dapr) with
// its defaults, at the module's version, into DaprNamespace.
func DaprChart() (docs []manifest.Doc, version string, err error) {
	dir, version, err := repo.ModuleVersion(DaprModule)
	if err != nil {
		return nil, "", err
	}
	docs, err = render.Release(filepath.Join(dir, "charts", "dapr"), "dapr", DaprNamespace,
		"global.tag="+strings.TrimPrefix(version, "v"))
	if err != nil {
		return nil, "", fmt.Errorf("render Dapr's chart: %w", err)
	}
	return docs, version, nil
}

// DaprDefaults configures the injector with the environment Dapr's chart
// (DaprChart) gives it.
func DaprDefaults() (*Injector, error) {
	docs, version, err := DaprChart()
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		if d.Kind != "Deployment" || d.Name != "dapr-sidecar-injector" {
			continue
		}
		var dep appsv1.Deployment
		if err := d.Decode(&dep); err != nil {
			return nil, err
		}
		env := map[string]string{}
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			switch {
			case e.ValueFrom == nil:
				env[e.Name] = e.Value
			case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
				env[e.Name] = DaprNamespace
			}
		}
		inj, err := NewInjector(env)
		if err != nil {
			return nil, err
		}
		inj.Version = version
		return inj, nil
	}
	return nil, fmt.Errorf("Dapr's chart renders no dapr-sidecar-injector Deployment")
}

// NewInjector configures the injector from its environment, parsed by the
// injector's own code.
func NewInjector(env map[string]string) (*Injector, error) {
	var cfg injectorservice.Config
	err := withEnv(env, func() (err error) {
		cfg, err = injectorservice.GetConfig()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("Dapr injector configuration: %w", err)
	}
	return &Injector{Env: env, config: cfg}, nil
}

// Patch applies the injector's patch to a pod being created in namespace,
// setting what its admission handler sets (pkg/injector/service,
// getPodPatchOperations) for a cluster with mTLS and the scheduler on, as
// Dapr installs by default. Trust anchors stand in for the sentry's.
func (inj *Injector) Patch(pod *corev1.Pod, namespace string) (*corev1.Pod, error) {
	c := inj.config
	sc := patcher.NewSidecarConfig(pod)
	sc.Mode = injectorconsts.ModeKubernetes
	sc.Namespace = namespace
	sc.MTLSEnabled = true
	sc.Identity = namespace + ":" + pod.Spec.ServiceAccountName
	sc.IgnoreEntrypointTolerations = c.GetIgnoreEntrypointTolerations()
	sc.ImagePullPolicy = c.GetPullPolicy()
	sc.OperatorAddress = patcher.ServiceAPI.Address(c.Namespace, c.KubeClusterDomain)
	sc.SentryAddress = patcher.ServiceSentry.Address(c.Namespace, c.KubeClusterDomain)
	sc.RunAsNonRoot = c.GetRunAsNonRoot()
	sc.RunAsUser = c.GetRunAsUser()
	sc.RunAsGroup = c.GetRunAsGroup()
	sc.ReadOnlyRootFilesystem = c.GetReadOnlyRootFilesystem()
	sc.EnableK8sDownwardAPIs = c.GetEnableK8sDownwardAPIs()
	sc.SidecarDropALLCapabilities = c.GetDropCapabilities()
	sc.ControlPlaneNamespace = c.Namespace
	sc.ControlPlaneTrustDomain = c.ControlPlaneTrustDomain
	sc.SentrySPIFFEID = "spiffe://" + c.ControlPlaneTrustDomain + "/ns/" + c.Namespace + "/dapr-sentry"
	sc.CurrentTrustAnchors = []byte("<trust anchors>")
	// DisableTokenVolume stays false: the injector runs with a service
	// account token, so daprd gets its projected token volume.
	sc.KubeClusterDomain = c.KubeClusterDomain
	sc.SchedulerEnabled = true
	sc.EnableNativeSidecar = c.GetNativeSidecarEnabled()
	if !c.GetActorsEnabled() {
		sc.ActorsService, sc.PlacementAddress = "", ""
	} else if sc.PlacementAddress == "" {
		name, svc := c.GetActorsService()
		if addr := svc.Address(c.Namespace, c.KubeClusterDomain); name == "placement" {
			sc.PlacementAddress = addr
		} else {
			sc.ActorsService = name + ":" + addr
		}
	}
	if name, svc, ok := c.GetRemindersService(); ok {
		sc.RemindersService = name + ":" + svc.Address(c.Namespace, c.KubeClusterDomain)
	}
	sc.SidecarImage = c.SidecarImage
	sc.SetFromPodAnnotations()
	patch, err := sc.GetPatch()
	if err != nil {
		return nil, fmt.Errorf("Dapr's injector refuses the pod: %w", err)
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	if len(patch) > 0 {
		ops, err := json.Marshal(patch)
		if err != nil {
			return nil, err
		}
		p, err := jsonpatch.DecodePatch(ops)
		if err != nil {
			return nil, err
		}
		if raw, err = p.Apply(raw); err != nil {
			return nil, fmt.Errorf("apply the injector's patch: %w", err)
		}
	}
	var out corev1.Pod
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
