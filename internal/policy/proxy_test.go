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

package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// injectedStatus is the annotation istiod 1.31 writes on a pod it injected.
const injectedStatus = `{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-socket",` +
	`"credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],` +
	`"imagePullSecrets":null,"revision":"%s"}`

func appPod(mutate ...func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-7d9c", Namespace: "shop", Labels: map[string]string{"app": "shop"},
			CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "shop", Image: "registry.example.com/shop:4.2"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, m := range mutate {
		m(pod)
	}
	return pod
}

func injected(revision, image string) func(*corev1.Pod) {
	return func(pod *corev1.Pod) {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[AnnotationSidecarStatus] = fmtStatus(revision)
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: "istio-init", Image: image})
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: ProxyContainer, Image: image})
	}
}

func fmtStatus(revision string) string {
	return fmt.Sprintf(injectedStatus, revision)
}

// meshConfigSince is when the mesh config last changed in TestProxy; appPod's pods are created after.
var meshConfigSince = metav1.NewTime(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))

func TestProxy(t *testing.T) {
	const current = "docker.io/istio/proxyv2:1.31.1"
	tests := map[string]struct {
		pod  *corev1.Pod
		want ProxyState
	}{
		"injected by the running control plane":  {appPod(injected("default", current)), ProxyCurrent},
		"distroless variant of the same version": {appPod(injected("default", "docker.io/istio/proxyv2:1.31.1-distroless")), ProxyCurrent},
		"debug variant of the same version":      {appPod(injected("default", "docker.io/istio/proxyv2:1.31.1-debug")), ProxyCurrent},
		"debug variant of an older version":      {appPod(injected("default", "docker.io/istio/proxyv2:1.31.0-debug")), ProxyOutdated},
		// The revision is then unknown, not another one: a restart would bring the same sidecar.
		"a status annotation that cannot be read": {appPod(func(p *corev1.Pod) {
			injected("default", current)(p)
			p.Annotations[AnnotationSidecarStatus] = `{"revision":`
		}), ProxyCurrent},
		"private registry mirror with a port":    {appPod(injected("default", "registry.example.com:5000/istio/proxyv2:1.31.1")), ProxyCurrent},
		"pinned by digest only: version unknown": {appPod(injected("default", "docker.io/istio/proxyv2@sha256:0123abcd")), ProxyCurrent},
		"tag and digest":                         {appPod(injected("default", "docker.io/istio/proxyv2:1.30.2@sha256:0123abcd")), ProxyOutdated},
		"older patch version before an upgrade":  {appPod(injected("default", "docker.io/istio/proxyv2:1.31.0")), ProxyOutdated},
		"older minor version":                    {appPod(injected("default", "docker.io/istio/proxyv2:1.30.2-distroless")), ProxyOutdated},
		"injected by another revision":           {appPod(injected("canary", current)), ProxyOutdated},
		"status without a revision is the default one": {appPod(func(p *corev1.Pod) {
			injected("default", current)(p)
			p.Annotations[AnnotationSidecarStatus] = `{"containers":["istio-proxy"]}`
		}), ProxyCurrent},
		"native sidecar in the init containers": {appPod(func(p *corev1.Pod) {
			always := corev1.ContainerRestartPolicyAlways
			p.Annotations = map[string]string{AnnotationSidecarStatus: fmtStatus("default")}
			p.Spec.InitContainers = []corev1.Container{{Name: ProxyContainer, Image: "docker.io/istio/proxyv2:1.30.0", RestartPolicy: &always}}
		}), ProxyOutdated},
		"created before enrollment": {appPod(), ProxyMissing},
		"pending pods count too":    {appPod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }), ProxyMissing},
		"opted out by label":        {appPod(func(p *corev1.Pod) { p.Labels[SidecarInject] = "false" }), ProxyNotCounted},
		"opted out by annotation": {appPod(func(p *corev1.Pod) {
			p.Annotations = map[string]string{SidecarInject: "false"}
		}), ProxyNotCounted},
		"a Job's finished pod":              {appPod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), ProxyNotCounted},
		"a failed pod":                      {appPod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }), ProxyNotCounted},
		"hostNetwork pod":                   {appPod(func(p *corev1.Pod) { p.Spec.HostNetwork = true }), ProxyNotCounted},
		"pod being deleted":                 {appPod(func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }), ProxyNotCounted},
		"inject label true, no sidecar yet": {appPod(func(p *corev1.Pod) { p.Labels[SidecarInject] = "true" }), ProxyMissing},
		"injected before the current mesh config": {appPod(injected("default", current), func(p *corev1.Pod) {
			p.CreationTimestamp = metav1.NewTime(meshConfigSince.Add(-time.Minute))
		}), ProxyOutdated},
		"injected in the second the mesh config changed": {appPod(injected("default", current), func(p *corev1.Pod) {
			p.CreationTimestamp = meshConfigSince
		}), ProxyCurrent},
		"no sidecar, created before the mesh config": {appPod(func(p *corev1.Pod) {
			p.CreationTimestamp = metav1.NewTime(meshConfigSince.Add(-time.Minute))
		}), ProxyMissing},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := ProxyInput{Pod: NewProxyPod(tc.pod), Version: "1.31.1", Revision: "default", MeshConfigSince: meshConfigSince}
			if got := Proxy(in); got != tc.want {
				t.Errorf("Proxy = %s, want %s", got, tc.want)
			}
		})
	}
}

// injectedForCNIStatus is the annotation istiod 1.31 writes on a pod it injected for the CNI agent, with
// the proxy as a native sidecar.
const injectedForCNIStatus = `{"initContainers":["istio-validation","istio-proxy"],"containers":null,"volumes":["workload-socket",` +
	`"credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],` +
	`"imagePullSecrets":null,"revision":"default"}`

// injectedForCNI injects a pod as istiod does for the CNI agent: istio-validation instead of istio-init.
func injectedForCNI(image string) func(*corev1.Pod) {
	return func(pod *corev1.Pod) {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[AnnotationSidecarStatus] = injectedForCNIStatus
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: ValidationContainer, Image: image},
			corev1.Container{Name: ProxyContainer, Image: image, RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)})
	}
}

// TestProxyInjectedForCNI: a pod injected for a CNI agent is outdated once the injector no longer
// injects for one (its istio-validation fails without the agent when its sandbox is created again); a
// pod with istio-init is not, whether the injector injects for a CNI agent or not (it sets up its
// redirection itself).
func TestProxyInjectedForCNI(t *testing.T) {
	const current = "docker.io/istio/proxyv2:1.31.1"
	for name, tc := range map[string]struct {
		pod  *corev1.Pod
		cni  bool
		want ProxyState
	}{
		"injected for CNI, the injector still is":    {appPod(injectedForCNI(current)), true, ProxyCurrent},
		"injected for CNI, the injector no more":     {appPod(injectedForCNI(current)), false, ProxyOutdated},
		"istio-init, the injector injects for CNI":   {appPod(injected("default", current)), true, ProxyCurrent},
		"istio-init, the injector does not":          {appPod(injected("default", current)), false, ProxyCurrent},
		"opted out pods are not counted, CNI or not": {appPod(injectedForCNI(current), func(p *corev1.Pod) { p.Labels[SidecarInject] = "false" }), false, ProxyNotCounted},
		"an outdated proxy injected for CNI, CNI on": {appPod(injectedForCNI("docker.io/istio/proxyv2:1.30.2")), true, ProxyOutdated},
		"only the annotation lists istio-validation": {appPod(injectedForCNI(current), func(p *corev1.Pod) { p.Spec.InitContainers = p.Spec.InitContainers[1:] }), false, ProxyOutdated},
	} {
		t.Run(name, func(t *testing.T) {
			in := ProxyInput{Pod: NewProxyPod(tc.pod), Version: "1.31.1", Revision: "default", CNI: tc.cni, MeshConfigSince: meshConfigSince}
			if got := Proxy(in); got != tc.want {
				t.Errorf("Proxy = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestNewProxyPodRecordsTheInjectionForCNI: the cache keeps whether a pod was injected for a CNI agent,
// read from its init containers or from the injector's status annotation.
func TestNewProxyPodRecordsTheInjectionForCNI(t *testing.T) {
	const image = "docker.io/istio/proxyv2:1.31.1"
	for name, tc := range map[string]struct {
		pod  *corev1.Pod
		want bool
	}{
		"istio-validation and the annotation": {appPod(injectedForCNI(image)), true},
		"istio-init":                          {appPod(injected("default", image)), false},
		"no sidecar":                          {appPod(), false},
		"the annotation alone": {appPod(func(p *corev1.Pod) {
			p.Annotations = map[string]string{AnnotationSidecarStatus: injectedForCNIStatus}
		}), true},
		"the init container alone (an unreadable annotation)": {appPod(injectedForCNI(image), func(p *corev1.Pod) {
			p.Annotations[AnnotationSidecarStatus] = "{"
		}), true},
		"istio-validation as a regular container is not the init container": {appPod(func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: ValidationContainer})
		}), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := NewProxyPod(tc.pod).InjectedForCNI; got != tc.want {
				t.Errorf("InjectedForCNI = %t, want %t", got, tc.want)
			}
		})
	}
}

// TestInjectsForCNI: istiod injects for a CNI agent when meshkeeper runs its agent, or when spec.values
// turns on a CNI installation of the user's own while meshkeeper runs none.
func TestInjectsForCNI(t *testing.T) {
	for name, tc := range map[string]struct {
		enabled bool
		values  string
		want    bool
	}{
		"meshkeeper's agent":                            {true, "", true},
		"meshkeeper's agent, values cannot turn it off": {true, `{"cni":{"enabled":false}}`, true},
		"no agent":                                          {false, "", false},
		"no agent, other values":                            {false, `{"global":{"tag":"1.31.1-fips"}}`, false},
		"the user's own CNI":                                {false, `{"cni":{"enabled":true,"provider":"multus"}}`, true},
		"the user's own CNI off":                            {false, `{"cni":{"enabled":false}}`, false},
		"cni without enabled":                               {false, `{"cni":{"provider":"multus"}}`, false},
		"enabled as a string, as a template reads it":       {false, `{"cni":{"enabled":"true"}}`, true},
		"the string false, which a template takes for true": {false, `{"cni":{"enabled":"false"}}`, true},
		"the empty string":                                  {false, `{"cni":{"enabled":""}}`, false},
		"enabled as a number":                               {false, `{"cni":{"enabled":1}}`, true},
		"the number zero":                                   {false, `{"cni":{"enabled":0}}`, false},
		"enabled as null":                                   {false, `{"cni":{"enabled":null}}`, false},
		"unreadable values":                                 {false, `{"cni":`, false},
	} {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{}
			spec.CNI.Enabled = ptr.To(tc.enabled)
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(tc.values)}
			}
			if got := InjectsForCNI(spec); got != tc.want {
				t.Errorf("InjectsForCNI = %t, want %t", got, tc.want)
			}
		})
	}
}

// TestProxyTagOfTheValues: a tag spec.values gives the sidecar image (a mirror's "1.31.1-fips") is the
// current one, and the version's own tag is then outdated.
func TestProxyTagOfTheValues(t *testing.T) {
	tests := map[string]struct {
		image, tag string
		want       ProxyState
	}{
		"the values' tag":                       {"docker.io/istio/proxyv2:1.31.1-fips", "1.31.1-fips", ProxyCurrent},
		"the version's tag, the values' differ": {"docker.io/istio/proxyv2:1.31.1", "1.31.1-fips", ProxyOutdated},
		"an older build of the values' tag":     {"docker.io/istio/proxyv2:1.31.0-fips", "1.31.1-fips", ProxyOutdated},
		"the values' variant":                   {"docker.io/istio/proxyv2:1.31.1-distroless", "1.31.1-distroless", ProxyCurrent},
		"no tag in the values: the version's":   {"docker.io/istio/proxyv2:1.31.1", "", ProxyCurrent},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := ProxyInput{Pod: NewProxyPod(appPod(injected("default", tc.image))), Version: "1.31.1", Revision: "default", ProxyTag: tc.tag}
			if got := Proxy(in); got != tc.want {
				t.Errorf("Proxy = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNewProxyPodKeepsWhatTheDecisionsRead(t *testing.T) {
	deleted := metav1.NewTime(time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC))
	pod := appPod(injected("canary", "docker.io/istio/proxyv2:1.31.1"), func(p *corev1.Pod) {
		p.UID, p.ResourceVersion, p.DeletionTimestamp = "0b7e", "42", &deleted
		p.Labels[SidecarInject] = "false"
		p.Annotations["prometheus.io/scrape"] = "true"
		p.OwnerReferences = []metav1.OwnerReference{
			{APIVersion: "v1", Kind: "ConfigMap", Name: "not-a-controller"},
			{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "shop-7d9c", UID: "6c1d", Controller: ptr.To(true)},
		}
		p.Spec.HostNetwork = true
		p.Spec.Volumes = []corev1.Volume{{Name: "data"}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	})
	want := &ProxyPod{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-7d9c", Namespace: "shop", UID: "0b7e", ResourceVersion: "42",
			CreationTimestamp: pod.CreationTimestamp, DeletionTimestamp: &deleted},
		Phase: corev1.PodRunning, ProxyImage: "docker.io/istio/proxyv2:1.31.1", InjectedRevision: "canary",
		Controller:  PodController{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "shop-7d9c", UID: "6c1d"},
		HostNetwork: true, OptedOut: true, HasProxy: true, Injected: true,
	}
	if got := NewProxyPod(pod); !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("NewProxyPod =\n%+v\nwant\n%+v", got, want)
	}

	plain := NewProxyPod(appPod(func(p *corev1.Pod) { p.Annotations = map[string]string{SidecarInject: "false"} }))
	if !plain.OptedOut || plain.HasProxy || plain.Injected || plain.Controller != (PodController{}) {
		t.Errorf("NewProxyPod of a plain pod opted out by annotation = %+v", plain)
	}
	if unreadable := NewProxyPod(appPod(func(p *corev1.Pod) {
		p.Annotations = map[string]string{AnnotationSidecarStatus: "{"}
	})); !unreadable.Injected || unreadable.InjectedRevision != "" || InjectedRevision(unreadable) != "" {
		t.Errorf("NewProxyPod of an unreadable status = %+v", unreadable)
	}
}

// TestOnlyARunningProxyUsesARevision: a pod whose status annotation names a revision uses it only if it
// runs the proxy that revision injected; the annotation alone, which anyone who creates pods can write,
// does not keep a revision from being pruned.
func TestOnlyARunningProxyUsesARevision(t *testing.T) {
	status := map[string]string{AnnotationSidecarStatus: `{"containers":["istio-proxy"],"revision":"1-31-0"}`}
	claimed := NewProxyPod(appPod(func(p *corev1.Pod) { p.Annotations = status }))
	if got := InjectedRevision(claimed); got != "" {
		t.Errorf("a pod with the annotation and no proxy uses revision %q", got)
	}
	injected := NewProxyPod(appPod(func(p *corev1.Pod) {
		p.Annotations = status
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: ProxyContainer, Image: "docker.io/istio/proxyv2:1.31.0"})
	}))
	if got := InjectedRevision(injected); got != "1-31-0" {
		t.Errorf("an injected pod uses revision %q, want 1-31-0", got)
	}
	native := NewProxyPod(appPod(func(p *corev1.Pod) {
		p.Annotations = status
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: ProxyContainer, Image: "docker.io/istio/proxyv2:1.31.0"})
	}))
	if got := InjectedRevision(native); got != "1-31-0" {
		t.Errorf("a pod with the proxy as a native sidecar uses revision %q, want 1-31-0", got)
	}
}

func TestProxyPodIsSmall(t *testing.T) {
	// The cache holds one per pod of the cluster; a corev1.Pod is 1,240 bytes before any field is set.
	if size := unsafe.Sizeof(ProxyPod{}); size > 448 {
		t.Errorf("a ProxyPod is %d bytes", size)
	}
}

func TestSameProxy(t *testing.T) {
	base := NewProxyPod(appPod(injected("default", "docker.io/istio/proxyv2:1.31.1"),
		func(p *corev1.Pod) { p.ResourceVersion = "1" }))
	for name, change := range map[string]func(*ProxyPod){
		"phase":             func(p *ProxyPod) { p.Phase = corev1.PodSucceeded },
		"proxy image":       func(p *ProxyPod) { p.ProxyImage = "docker.io/istio/proxyv2:1.31.2" },
		"injected revision": func(p *ProxyPod) { p.InjectedRevision = "canary" },
		"deleted":           func(p *ProxyPod) { now := metav1.Now(); p.DeletionTimestamp = &now },
		"host network":      func(p *ProxyPod) { p.HostNetwork = true },
		"opted out":         func(p *ProxyPod) { p.OptedOut = true },
		"proxy removed":     func(p *ProxyPod) { p.HasProxy = false },
		"not injected":      func(p *ProxyPod) { p.Injected = false },
		"injected for CNI":  func(p *ProxyPod) { p.InjectedForCNI = true },
		"controller":        func(p *ProxyPod) { p.Controller.Name = "other" },
		"discovery service": func(p *ProxyPod) { p.DiscoveryService = "istiod-1-31-0.other-system" },
		"recreated":         func(p *ProxyPod) { p.UID = "other" },
	} {
		changed := base.DeepCopyObject().(*ProxyPod)
		change(changed)
		if base.SameProxy(changed) {
			t.Errorf("%s: a change is not seen", name)
		}
	}
	bookkeeping := base.DeepCopyObject().(*ProxyPod)
	bookkeeping.ResourceVersion = "2"
	if !base.SameProxy(bookkeeping) {
		t.Error("a new resource version alone counts as a change")
	}
}

// TestOptedOutAsIstioReadsIt: a pod is left out of the count when Istio's injector would leave it
// alone, whatever spelling of "no" its sidecar.istio.io/inject has, and the label wins over the
// annotation, as in the injector.
func TestOptedOutAsIstioReadsIt(t *testing.T) {
	for _, tc := range []struct {
		name              string
		label, annotation *string
		want              bool
	}{
		{name: "neither"},
		{name: "annotation false", annotation: ptr.To("false"), want: true},
		{name: "label false", label: ptr.To("false"), want: true},
		{name: "annotation False", annotation: ptr.To("False"), want: true},
		{name: "annotation no", annotation: ptr.To("no"), want: true},
		{name: "label off", label: ptr.To("off"), want: true},
		{name: "label n", label: ptr.To("n"), want: true},
		{name: "annotation yes", annotation: ptr.To("yes")},
		{name: "label TRUE", label: ptr.To("TRUE")},
		{name: "label on", label: ptr.To("on")},
		{name: "label true wins over annotation false", label: ptr.To("true"), annotation: ptr.To("false")},
		{name: "label no wins over annotation true", label: ptr.To("no"), annotation: ptr.To("true"), want: true},
		{name: "empty label: the namespace decides, whatever the annotation", label: ptr.To(""), annotation: ptr.To("false")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := appPod(func(p *corev1.Pod) {
				p.Labels, p.Annotations = map[string]string{}, map[string]string{}
				if tc.label != nil {
					p.Labels[SidecarInject] = *tc.label
				}
				if tc.annotation != nil {
					p.Annotations[SidecarInject] = *tc.annotation
				}
			})
			proxy := NewProxyPod(pod)
			if proxy.OptedOut != tc.want {
				t.Errorf("OptedOut = %t, want %t", proxy.OptedOut, tc.want)
			}
			// What the count makes of it: a pod Istio will not inject needs no restart.
			state := Proxy(ProxyInput{Pod: proxy, Version: "1.31.1", Revision: "default"})
			if tc.want != (state == ProxyNotCounted) {
				t.Errorf("Proxy = %v", state)
			}
		})
	}
}

// TestProxyPodKeepsItsDiscoveryService: a pod's proxy gets its configuration from the istiod its
// injector named in the PROXY_CONFIG of istio-proxy, istiod-<revision>.<namespace>.svc:15012; two Istio
// installations whose revisions have one name are told apart by it. An address that names no Service of
// the cluster, or a value that cannot be read, names none.
func TestProxyPodKeepsItsDiscoveryService(t *testing.T) {
	withConfig := func(config string) *ProxyPod {
		return NewProxyPod(appPod(injected("1-31-0", "docker.io/istio/proxyv2:1.31.0"), func(pod *corev1.Pod) {
			proxy := &pod.Spec.Containers[len(pod.Spec.Containers)-1]
			proxy.Env = []corev1.EnvVar{{Name: "ISTIO_META_MESH_ID", Value: "cluster.local"}, {Name: "PROXY_CONFIG", Value: config}}
		}))
	}
	for config, want := range map[string]string{
		// As the sidecar template writes it: protoToJSON in a block scalar.
		`{"discoveryAddress":"istiod-1-31-0.istio-system.svc:15012","proxyMetadata":{"ISTIO_META_DNS_CAPTURE":"true"}}` + "\n": "istiod-1-31-0.istio-system",
		`{"discoveryAddress":"istiod.mesh-a.svc.cluster.local:15012"}`:                                                         "istiod.mesh-a",
		`{"discoveryAddress":"istiod-1-31-0.mesh-b:15012"}`:                                                                    "istiod-1-31-0.mesh-b",
		`{"discoveryAddress":"istiod-1-31-0.mesh-b"}`:                                                                          "istiod-1-31-0.mesh-b",
		`{"discoveryAddress":"istiod.example.com:15012"}`:                                                                      "",
		`{"discoveryAddress":"10.96.0.10:15012"}`:                                                                              "",
		`{"discoveryAddress":"Istiod.Mesh.svc:15012"}`:                                                                         "",
		`{"discoveryAddress":"istiod:15012"}`:                                                                                  "",
		`{"concurrency":2}`:                                                                                                    "",
		"discoveryAddress: istiod.istio-system.svc:15012":                                                                      "",
		`{"discoveryAddress":"istiod-1-31-0.` + strings.Repeat("a", 64) + `.svc:15012"}`:                                       "",
	} {
		if got := withConfig(config).DiscoveryService; got != want {
			t.Errorf("PROXY_CONFIG %.60q: DiscoveryService = %q, want %q", config, got, want)
		}
	}
	if got := NewProxyPod(appPod(injected("1-31-0", "docker.io/istio/proxyv2:1.31.0"))).DiscoveryService; got != "" {
		t.Errorf("a proxy without PROXY_CONFIG: DiscoveryService = %q, want none", got)
	}
}
