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
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

const (
	// AnnotationSidecarStatus is what the injector writes on every pod it injected: the containers it
	// added and the revision that injected them.
	AnnotationSidecarStatus = "sidecar.istio.io/status"
	// ProxyContainer is the name of the sidecar container (a container, or an init container with
	// restartPolicy Always when Istio uses native sidecars).
	ProxyContainer = "istio-proxy"
	// ValidationContainer is the init container the injector adds for a CNI agent instead of istio-init:
	// it only checks that the agent's plugin redirected the pod's traffic, and fails when it did not.
	ValidationContainer = "istio-validation"
)

// ProxyState is what a pod of an enrolled namespace needs from its owner.
type ProxyState string

const (
	// ProxyNotCounted means the pod has finished, is being deleted, runs in the node's network, or opted out
	// of injection; a restart would not give it a sidecar.
	ProxyNotCounted ProxyState = "NotCounted"
	// ProxyCurrent means the pod's sidecar comes from the running control plane.
	ProxyCurrent ProxyState = "Current"
	// ProxyMissing means the pod was created without a sidecar, before its namespace was enrolled; a restart
	// gives it one.
	ProxyMissing ProxyState = "WithoutSidecar"
	// ProxyOutdated means the pod's sidecar was injected by another revision, runs another Istio version,
	// was injected for a CNI agent the mesh no longer injects for, or was injected before the current mesh
	// config; a restart brings it to the current one.
	ProxyOutdated ProxyState = "Outdated"
)

// ProxyInput is what the decision about one pod looks at.
type ProxyInput struct {
	// Pod is the pod as meshkeeper caches it.
	Pod *ProxyPod
	// Version is the Istio version the control plane runs; Revision its revision ("default").
	Version, Revision string
	// ProxyTag is the tag of the sidecar image the injector gives (render.ProxyTag), when spec.values
	// set another than the version; "" for the version's.
	ProxyTag string
	// MeshConfigSince is when the mesh config (the istio ConfigMap) last changed. The injector writes
	// the proxy defaults of the mesh config (proxyMetadata such as ISTIO_DELTA_XDS) into the sidecar when
	// the pod is created, so a pod created before then runs with the previous ones. Zero: unknown.
	MeshConfigSince metav1.Time
	// CNI tells that the injector adds istio-validation for a CNI agent (InjectsForCNI). A pod injected
	// for one while the injector no longer does has no redirection once the agent is gone: it runs as
	// long as its sandbox does, and its istio-validation fails when the sandbox is created again (a node
	// reboot, a restart of the container runtime). A pod with istio-init under a CNI agent is not
	// outdated: it sets up its redirection itself, and the agent's plugin leaves it alone.
	CNI bool
}

// Proxy classifies a pod of an enrolled namespace by what its sidecar needs.
func Proxy(in ProxyInput) ProxyState {
	pod := in.Pod
	if !pod.capturable() || pod.OptedOut {
		return ProxyNotCounted
	}
	if !pod.HasProxy && !pod.Injected {
		return ProxyMissing
	}
	if pod.Injected && pod.InjectedRevision != "" && pod.InjectedRevision != normalRevision(in.Revision) {
		return ProxyOutdated
	}
	if pod.InjectedForCNI && !in.CNI {
		return ProxyOutdated
	}
	if want := imageVersion(":" + cmp.Or(in.ProxyTag, in.Version)); pod.HasProxy && want != "" {
		if version := imageVersion(pod.ProxyImage); version != "" && version != want {
			return ProxyOutdated
		}
	}
	if !in.MeshConfigSince.IsZero() && pod.CreationTimestamp.Before(&in.MeshConfigSince) {
		return ProxyOutdated
	}
	return ProxyCurrent
}

// proxyContainer finds the sidecar among the containers, or among the init containers (native sidecars).
func proxyContainer(pod *corev1.Pod) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == ProxyContainer {
				return &list[i]
			}
		}
	}
	return nil
}

// sidecarStatus is what the injector's status annotation says: the revision that injected the pod
// ("" when the annotation names none, for injectors before revisions existed, or cannot be read), and
// whether it added istio-validation.
type sidecarStatus struct {
	revision   string
	validation bool
}

// readSidecarStatus reads the injector's status annotation.
func readSidecarStatus(status string) sidecarStatus {
	var s struct {
		Revision       string   `json:"revision"`
		InitContainers []string `json:"initContainers"`
	}
	if json.Unmarshal([]byte(status), &s) != nil {
		return sidecarStatus{}
	}
	return sidecarStatus{revision: normalRevision(s.Revision), validation: slices.Contains(s.InitContainers, ValidationContainer)}
}

// InjectsForCNI tells whether istiod injects pods for a CNI agent (istio-validation instead of
// istio-init) under spec, whose spec.cni.enabled says whether it injects for meshkeeper's agent
// (meshctx.InjectionSpec): for meshkeeper's, or for a CNI installation of the user's own that
// spec.values turns on (cni.enabled), which meshkeeper's values leave in place without its agent.
func InjectsForCNI(spec *meshv1alpha1.ServiceMeshSpec) bool {
	if render.Mode(spec) == render.SidecarCNI {
		return true
	}
	if spec.Values == nil || !bytes.Contains(spec.Values.Raw, []byte(`"cni"`)) {
		return false
	}
	var values struct {
		CNI struct {
			Enabled any `json:"enabled"`
		} `json:"cni"`
	}
	if json.Unmarshal(spec.Values.Raw, &values) != nil {
		return false
	}
	return render.CNIEnabled(values.CNI.Enabled)
}

func normalRevision(revision string) string {
	if revision == "" {
		return defaultRevision
	}
	return revision
}

// imageVersion reads the Istio version from a proxy image's tag ("docker.io/istio/proxyv2:1.31.1" or
// "…:1.31.1-distroless"); "" when the image is pinned by digest only or has no tag, since then the
// version cannot be told from it.
func imageVersion(image string) string {
	tag := charts.ImageTag(image)
	for _, variant := range []string{"-distroless", "-debug"} {
		tag = strings.TrimSuffix(tag, variant)
	}
	return tag
}
