/*
Copyright 2026 The meshkeeper Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package render

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// defaultedSpec is a spec as the API server returns it after applying the CRD defaults.
func defaultedSpec() *meshv1alpha1.ServiceMeshSpec {
	return &meshv1alpha1.ServiceMeshSpec{
		Namespace: "istio-system",
		Images:    meshv1alpha1.ImagesSpec{Hub: "docker.io/istio", PullPolicy: corev1.PullIfNotPresent},
		ControlPlane: meshv1alpha1.ControlPlaneSpec{
			PodDisruptionBudget: ptr.To(true),
			PushTuning: meshv1alpha1.PushTuningSpec{
				DebounceAfter: &metav1.Duration{Duration: 100 * time.Millisecond},
				DebounceMax:   &metav1.Duration{Duration: 10 * time.Second},
				PushThrottle:  ptr.To[int32](100),
			},
		},
		Proxy: meshv1alpha1.ProxySpec{
			DeltaXDS: ptr.To(true), DNSCapture: ptr.To(true), DNSAutoAllocate: ptr.To(true),
			HoldApplicationUntilProxyStarts: ptr.To(true),
		},
	}
}

// lookup walks a values tree along a path.
func lookup(v Values, path ...string) any {
	var cur any = v
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func TestIstiodValues(t *testing.T) {
	tests := map[string]struct {
		mutate  func(*meshv1alpha1.ServiceMeshSpec)
		version string         // the Istio version; default 1.31.1
		want    map[string]any // path joined by "." -> value
	}{
		"defaults: pinned images, two replicas, push tuning, proxy metadata, probe rewrite": {
			mutate: func(*meshv1alpha1.ServiceMeshSpec) {},
			want: map[string]any{
				"global.hub":             "docker.io/istio",
				"global.tag":             "1.31.1",
				"global.imagePullPolicy": "IfNotPresent",
				"global.istioNamespace":  "istio-system",
				"global.defaultPodDisruptionBudget.enabled":                           true,
				"autoscaleEnabled":                                                    false,
				"replicaCount":                                                        int64(2),
				"env.PILOT_DEBOUNCE_AFTER":                                            "100ms",
				"env.PILOT_DEBOUNCE_MAX":                                              "10s",
				"env.PILOT_PUSH_THROTTLE":                                             "100",
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_DELTA_XDS":              "true",
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE":       "true",
				"env.PILOT_ENABLE_IP_AUTOALLOCATE":                                    "true",
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_AUTO_ALLOCATE": nil,
				"meshConfig.defaultConfig.holdApplicationUntilProxyStarts":            true,
				"sidecarInjectorWebhook.rewriteAppHTTPProbe":                          true,
				"resources":                nil,
				"global.priorityClassName": nil,
				// An unset spec.cni.enabled is a new mesh's: injection uses the CNI agent.
				"cni.enabled":                      true,
				"global.proxy.seccompProfile.type": "RuntimeDefault",
			},
		},
		"CNI off: istio-init as before, nothing CNI-related set": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) { s.CNI.Enabled = ptr.To(false) },
			want:   map[string]any{"cni": nil, "global.proxy": nil},
		},
		"CNI on: spec.values may choose its own seccomp profile but cannot turn the CNI injection off": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.CNI.Enabled = ptr.To(true)
				s.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"cni":{"enabled":false,"provider":"multus"},` +
					`"global":{"proxy":{"seccompProfile":{"type":"Localhost","localhostProfile":"istio.json"}}}}`)}
			},
			want: map[string]any{
				"cni.enabled":                      true,
				"cni.provider":                     "multus",
				"global.proxy.seccompProfile.type": "Localhost",
				"global.proxy.seccompProfile.localhostProfile": "istio.json",
			},
		},
		"CNI off: a user's own CNI installation through spec.values is kept": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.CNI.Enabled = ptr.To(false)
				s.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"cni":{"enabled":true}}`)}
			},
			want: map[string]any{"cni.enabled": true, "global.proxy": nil},
		},
		"autoscaling replaces the fixed replica count": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.ControlPlane.Autoscaling = &meshv1alpha1.AutoscalingSpec{MinReplicas: 3, MaxReplicas: 9}
			},
			want: map[string]any{"autoscaleEnabled": true, "autoscaleMin": int64(3), "autoscaleMax": int64(9), "replicaCount": nil},
		},
		"proxy features off reach the mesh config as false": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.Proxy.DeltaXDS = ptr.To(false)
				s.Proxy.DNSCapture = ptr.To(false)
				s.Proxy.HoldApplicationUntilProxyStarts = ptr.To(false)
			},
			want: map[string]any{
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_DELTA_XDS":        "false",
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE": "false",
				"meshConfig.defaultConfig.holdApplicationUntilProxyStarts":      false,
			},
		},
		// istiod allocates by default since 1.25: false has to reach it, or addresses are still allocated.
		"DNS auto-allocation off turns istiod's ServiceEntry address allocator off": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) { s.Proxy.DNSAutoAllocate = ptr.To(false) },
			want: map[string]any{
				"env.PILOT_ENABLE_IP_AUTOALLOCATE":                                    "false",
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_AUTO_ALLOCATE": nil,
			},
		},
		"DNS auto-allocation is istiod's from 1.25 on": {
			version: "1.25.0",
			mutate:  func(*meshv1alpha1.ServiceMeshSpec) {},
			want: map[string]any{
				"env.PILOT_ENABLE_IP_AUTOALLOCATE":                                    "true",
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_AUTO_ALLOCATE": nil,
			},
		},
		"DNS auto-allocation is the proxies' flag before 1.25": {
			version: "1.24.6",
			mutate:  func(*meshv1alpha1.ServiceMeshSpec) {},
			want: map[string]any{
				"env.PILOT_ENABLE_IP_AUTOALLOCATE":                                    nil,
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_AUTO_ALLOCATE": "true",
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE":       "true",
			},
		},
		"DNS auto-allocation off before 1.25 is the proxies' flag set to false": {
			version: "1.22.0",
			mutate:  func(s *meshv1alpha1.ServiceMeshSpec) { s.Proxy.DNSAutoAllocate = ptr.To(false) },
			want: map[string]any{
				"env.PILOT_ENABLE_IP_AUTOALLOCATE":                                    nil,
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_AUTO_ALLOCATE": "false",
			},
		},
		"a spec.values env does not lose the DNS auto-allocation": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"env":{"EXTRA":"x"}}`)}
			},
			want: map[string]any{"env.EXTRA": "x", "env.PILOT_ENABLE_IP_AUTOALLOCATE": "true"},
		},
		"placement, resources and PDB": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.ControlPlane.Replicas = ptr.To[int32](3)
				s.ControlPlane.PodDisruptionBudget = ptr.To(false)
				s.ControlPlane.PriorityClassName = "system-cluster-critical"
				s.ControlPlane.NodeSelector = map[string]string{"role": "infra"}
				s.ControlPlane.Tolerations = []corev1.Toleration{{Key: "infra", Operator: corev1.TolerationOpExists}}
				s.ControlPlane.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
				s.Proxy.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
			},
			want: map[string]any{
				"replicaCount": int64(3),
				"global.defaultPodDisruptionBudget.enabled": false,
				"global.priorityClassName":                  "system-cluster-critical",
				"nodeSelector.role":                         "infra",
				"resources.requests.cpu":                    "1",
				"global.proxy.resources.limits.memory":      "256Mi",
			},
		},
		"spec.values is merged last and wins": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"env":{"PILOT_PUSH_THROTTLE":"50","EXTRA":"x"},"global":{"hub":"registry.example.com/istio"},"meshConfig":{"accessLogFile":"/dev/stdout"}}`)}
			},
			want: map[string]any{
				"env.PILOT_PUSH_THROTTLE":  "50",
				"env.EXTRA":                "x",
				"env.PILOT_DEBOUNCE_AFTER": "100ms",
				"global.hub":               "registry.example.com/istio",
				"global.tag":               "1.31.1",
				"meshConfig.accessLogFile": "/dev/stdout",
				"meshConfig.defaultConfig.proxyMetadata.ISTIO_DELTA_XDS": "true",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := defaultedSpec()
			tc.mutate(spec)
			version := tc.version
			if version == "" {
				version = "1.31.1"
			}
			values, err := IstiodValues(spec, version)
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				got := lookup(values, strings.Split(path, ".")...)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

// TestSetResourcesTakeTheChartDefaultsOut checks the nulls that keep the charts' default resources out
// of what the spec sets (TestRenderedResourcesAreTheSpecs checks what the charts then render), and
// that nothing is taken out when the spec sets no resources.
func TestSetResourcesTakeTheChartDefaultsOut(t *testing.T) {
	memory := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}
	tests := map[string]struct {
		mutate      func(*meshv1alpha1.ServiceMeshSpec)
		istiod, cni any // want under the charts' defaults key; nil: no such key
	}{
		"no resources: the charts' defaults": {mutate: func(*meshv1alpha1.ServiceMeshSpec) {}},
		"the sidecar's": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) { s.Proxy.Resources.Limits = memory },
			istiod: Values{"global": Values{"proxy": Values{"resources": nil}}},
		},
		"istiod's": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) { s.ControlPlane.Resources.Requests = memory },
			istiod: Values{"resources": nil},
		},
		"every one": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.Proxy.Resources.Requests = memory
				s.ControlPlane.Resources.Limits = memory
				s.CNI.Resources.Limits = memory
			},
			istiod: Values{"resources": nil, "global": Values{"proxy": Values{"resources": nil}}},
			cni:    Values{"resources": nil},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := defaultedSpec()
			tc.mutate(spec)
			istiod, err := IstiodValues(spec, "1.31.1")
			if err != nil {
				t.Fatal(err)
			}
			// The key the charts' zzz_profile.yaml reads, spelled out rather than taken from the code.
			const key = "_internal_defaults_do_not_set"
			if got := istiod[key]; !reflect.DeepEqual(got, tc.istiod) {
				t.Errorf("istiod values: %s = %#v, want %#v", key, got, tc.istiod)
			}
			if got := CNIValues(spec, "1.31.1")[key]; !reflect.DeepEqual(got, tc.cni) {
				t.Errorf("CNI values: %s = %#v, want %#v", key, got, tc.cni)
			}
		})
	}
}

func TestIstiodValuesRejectsNonObjectValues(t *testing.T) {
	spec := defaultedSpec()
	spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`["a"]`)}
	if _, err := IstiodValues(spec, "1.31.1"); err == nil {
		t.Fatal("want an error for spec.values that is not an object")
	}
}

func TestMergeLeavesItsInputsAlone(t *testing.T) {
	base := Values{"a": Values{"b": 1, "c": 2}, "d": 3}
	override := Values{"a": Values{"b": 10}, "e": Values{"f": 4}}
	got := Merge(base, override)
	want := Values{"a": Values{"b": 10, "c": 2}, "d": 3, "e": Values{"f": 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(base, Values{"a": Values{"b": 1, "c": 2}, "d": 3}) {
		t.Errorf("Merge modified its base: %v", base)
	}
}

func TestImageHubs(t *testing.T) {
	cases := map[string]struct {
		values string
		want   []string
	}{
		"the spec's hub only":              {values: ``, want: []string{"docker.io/istio"}},
		"global.hub from values":           {values: `{"global":{"hub":"registry.example.com/istio"}}`, want: []string{"registry.example.com/istio"}},
		"istiod's own hub":                 {values: `{"hub":"registry.example.com/pilot"}`, want: []string{"docker.io/istio", "registry.example.com/pilot"}},
		"istiod's image as a reference":    {values: `{"image":"registry.example.com/tools/pilot:1.0@sha256:abc"}`, want: []string{"docker.io/istio", "registry.example.com/tools"}},
		"istiod's image as a name":         {values: `{"image":"pilot","hub":"ghcr.io/istio"}`, want: []string{"docker.io/istio", "ghcr.io/istio"}},
		"the sidecar image as a reference": {values: `{"global":{"proxy":{"image":"evil.example.com/proxyv2:1"}}}`, want: []string{"docker.io/istio", "evil.example.com"}},
		"the init image as a reference":    {values: `{"global":{"proxy_init":{"image":"evil.example.com/x/init"}}}`, want: []string{"docker.io/istio", "evil.example.com/x"}},
		"the agentgateway image":           {values: `{"global":{"agentgateway":{"image":"evil.example.com/agw:1"}}}`, want: []string{"docker.io/istio", "evil.example.com"}},
		"image names without a hub":        {values: `{"global":{"proxy":{"image":"proxyv2"},"proxy_init":{"image":"proxyv2"}}}`, want: []string{"docker.io/istio"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", Images: meshv1alpha1.ImagesSpec{Hub: "docker.io/istio"}}
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(tc.values)}
			}
			values, err := IstiodValues(spec, "1.31.1")
			if err != nil {
				t.Fatal(err)
			}
			if got := ImageHubs(values); !slices.Equal(got, tc.want) {
				t.Errorf("ImageHubs = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCNIValues(t *testing.T) {
	tests := map[string]struct {
		mutate func(*meshv1alpha1.ServiceMeshSpec)
		want   map[string]any // path joined by "." -> value
	}{
		"defaults: istiod's hub and tag, chained, kube-system excluded, every taint tolerated": {
			mutate: func(*meshv1alpha1.ServiceMeshSpec) {},
			want: map[string]any{
				"global.hub":             "docker.io/istio",
				"global.tag":             "1.31.1",
				"global.imagePullPolicy": "IfNotPresent",
				"chained":                true,
				"excludeNamespaces":      []any{"kube-system"},
				"tolerations":            []any{map[string]any{"operator": "Exists"}},
				"cniBinDir":              nil,
				"cniConfDir":             nil,
				"resources":              nil,
			},
		},
		"platform paths, a standalone configuration, placement and resources": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.CNI.CNIBinDir = "/var/lib/cni/bin"
				s.CNI.CNIConfDir = "/etc/cni/multus/net.d"
				s.CNI.Chained = ptr.To(false)
				s.CNI.ExcludeNamespaces = []string{"kube-system", "monitoring"}
				s.CNI.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}
				s.CNI.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
			},
			want: map[string]any{
				"cniBinDir":              "/var/lib/cni/bin",
				"cniConfDir":             "/etc/cni/multus/net.d",
				"chained":                false,
				"excludeNamespaces":      []any{"kube-system", "monitoring"},
				"resources.requests.cpu": "50m",
				"tolerations":            []any{map[string]any{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := defaultedSpec()
			tc.mutate(spec)
			values := CNIValues(spec, "1.31.1")
			for path, want := range tc.want {
				if got := lookup(values, strings.Split(path, ".")...); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

func TestCNIPriorityClassName(t *testing.T) {
	for class, want := range map[string]string{"": "system-node-critical", "mesh-node-agent": "mesh-node-agent"} {
		spec := defaultedSpec()
		spec.CNI.PriorityClassName = class
		if got := CNIPriorityClassName(spec); got != want {
			t.Errorf("CNIPriorityClassName with %q = %q, want %q", class, got, want)
		}
	}
}

func TestModeDecidesTheNodeAgentAndTheInitContainer(t *testing.T) {
	for _, tc := range []struct {
		enabled           *bool
		mode              DataPlaneMode
		agent, privileged bool
	}{
		{enabled: nil, mode: SidecarCNI, agent: true},
		{enabled: ptr.To(true), mode: SidecarCNI, agent: true},
		{enabled: ptr.To(false), mode: SidecarInitContainer, privileged: true},
	} {
		spec := defaultedSpec()
		spec.CNI.Enabled = tc.enabled
		mode := Mode(spec)
		if mode != tc.mode || mode.NeedsNodeAgent() != tc.agent || mode.PrivilegedInit() != tc.privileged {
			t.Errorf("enabled %v: mode %s (agent %t, privileged init %t), want %s (%t, %t)", ptr.Deref(tc.enabled, true),
				mode, mode.NeedsNodeAgent(), mode.PrivilegedInit(), tc.mode, tc.agent, tc.privileged)
		}
	}
}

func TestProxyTag(t *testing.T) {
	tests := map[string]struct {
		values string
		want   string
	}{
		"the version":                          {`{}`, "1.31.1"},
		"a tag of the values":                  {`{"global":{"tag":"1.31.1-fips"}}`, "1.31.1-fips"},
		"a variant":                            {`{"global":{"variant":"distroless"}}`, "1.31.1-distroless"},
		"a variant without a tag":              {`{"global":{"tag":null,"variant":"distroless"}}`, ""},
		"an image name in the hub":             {`{"global":{"proxy":{"image":"proxyv2-fips"}}}`, "1.31.1"},
		"a whole image reference":              {`{"global":{"proxy":{"image":"mirror.example.com/istio/proxyv2:1.31.1-corp"}}}`, "1.31.1-corp"},
		"a whole reference with a port":        {`{"global":{"proxy":{"image":"mirror.example.com:5000/istio/proxyv2"}}}`, ""},
		"a whole reference pinned by a digest": {`{"global":{"proxy":{"image":"mirror.example.com/istio/proxyv2@sha256:0123abcd"}}}`, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", Values: &meshv1alpha1.IstiodValues{}}
			if err := spec.Values.UnmarshalJSON([]byte(tc.values)); err != nil {
				t.Fatal(err)
			}
			values, err := IstiodValues(spec, "1.31.1")
			if err != nil {
				t.Fatal(err)
			}
			if got := ProxyTag(values); got != tc.want {
				t.Errorf("ProxyTag = %q, want %q", got, tc.want)
			}
		})
	}
}

// An unset proxy setting is what the CRD defaults it to, and an Istio release after 1.x allocates
// ServiceEntry addresses in istiod.
func TestIstiodValuesOfAnUndefaultedSpec(t *testing.T) {
	spec := defaultedSpec()
	spec.Proxy = meshv1alpha1.ProxySpec{}
	for _, version := range []string{"1.24.0", "1.31.1", "2.0.0"} {
		values, err := IstiodValues(spec, version)
		if err != nil {
			t.Fatal(err)
		}
		if got := lookup(values, "meshConfig", "defaultConfig", "holdApplicationUntilProxyStarts"); got != true {
			t.Errorf("%s: holdApplicationUntilProxyStarts = %#v, want true", version, got)
		}
		inIstiod := version != "1.24.0"
		if got := lookup(values, "env", "PILOT_ENABLE_IP_AUTOALLOCATE"); (got == "true") != inIstiod {
			t.Errorf("%s: env.PILOT_ENABLE_IP_AUTOALLOCATE = %#v", version, got)
		}
		if got := lookup(values, "meshConfig", "defaultConfig", "proxyMetadata", "ISTIO_META_DNS_AUTO_ALLOCATE"); (got == "true") == inIstiod {
			t.Errorf("%s: proxyMetadata.ISTIO_META_DNS_AUTO_ALLOCATE = %#v", version, got)
		}
	}
}

func TestPrivilegedSidecar(t *testing.T) {
	tests := map[string]struct {
		values string
		want   string
	}{
		"no values":                         {``, ""},
		"values that ask for nothing of it": {`{"global":{"proxy":{"resources":{}}},"pilot":{"env":{"A":"privileged"}}}`, ""},
		"a privileged proxy":                {`{"global":{"proxy":{"privileged":true}}}`, "global.proxy.privileged: true"},
		"a privileged proxy, as a string":   {`{"global":{"proxy":{"privileged":"true"}}}`, "global.proxy.privileged: true"},
		"privileged false":                  {`{"global":{"proxy":{"privileged":false}}}`, ""},
		"TPROXY interception":               {`{"meshConfig":{"defaultConfig":{"interceptionMode":"TPROXY"}}}`, "meshConfig.defaultConfig.interceptionMode: TPROXY"},
		"REDIRECT interception":             {`{"meshConfig":{"defaultConfig":{"interceptionMode":"REDIRECT"}}}`, ""},
		"iptables trace logging": {`{"meshConfig":{"defaultConfig":{"proxyMetadata":{"IPTABLES_TRACE_LOGGING":"true"}}}}`,
			`meshConfig.defaultConfig.proxyMetadata.IPTABLES_TRACE_LOGGING: "true"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{}
				if err := spec.Values.UnmarshalJSON([]byte(tc.values)); err != nil {
					t.Fatal(err)
				}
			}
			if got := PrivilegedSidecar(spec); got != tc.want {
				t.Errorf("PrivilegedSidecar = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSeccompLessSidecar: with the CNI agent, meshkeeper gives the sidecar's containers the seccomp
// profile RuntimeDefault, which spec.values merges over key by key. null, or a type that is null or
// empty, takes it away; {} and a profile of another type keep one (Unconfined is PrivilegedSidecar's).
func TestSeccompLessSidecar(t *testing.T) {
	tests := map[string]struct {
		cniOff bool
		values string
		want   string
	}{
		"no values":             {values: ``},
		"no seccompProfile":     {values: `{"global":{"proxy":{"resources":{}}}}`},
		"null":                  {values: `{"global":{"proxy":{"seccompProfile":null}}}`, want: "global.proxy.seccompProfile: null"},
		"a type of null":        {values: `{"global":{"proxy":{"seccompProfile":{"type":null}}}}`, want: "global.proxy.seccompProfile.type: null"},
		"an empty type":         {values: `{"global":{"proxy":{"seccompProfile":{"type":""}}}}`, want: `global.proxy.seccompProfile.type: ""`},
		"an empty string":       {values: `{"global":{"proxy":{"seccompProfile":""}}}`, want: `global.proxy.seccompProfile: ""`},
		"{}":                    {values: `{"global":{"proxy":{"seccompProfile":{}}}}`},
		"RuntimeDefault":        {values: `{"global":{"proxy":{"seccompProfile":{"type":"RuntimeDefault"}}}}`},
		"Localhost":             {values: `{"global":{"proxy":{"seccompProfile":{"type":"Localhost","localhostProfile":"proxy.json"}}}}`},
		"Unconfined":            {values: `{"global":{"proxy":{"seccompProfile":{"type":"Unconfined"}}}}`},
		"istiod's own, null":    {values: `{"seccompProfile":null}`},
		"null, without the CNI": {cniOff: true, values: `{"global":{"proxy":{"seccompProfile":null}}}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
			if tc.cniOff {
				spec.CNI.Enabled = new(bool)
			}
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{}
				if err := spec.Values.UnmarshalJSON([]byte(tc.values)); err != nil {
					t.Fatal(err)
				}
			}
			if got := SeccompLessSidecar(spec); got != tc.want {
				t.Errorf("SeccompLessSidecar = %q, want %q", got, tc.want)
			}
		})
	}
}
