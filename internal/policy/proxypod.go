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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// ProxyPod is a pod as meshkeeper caches it: what Proxy reads and what the restarts follow to the
// pod's workload, and nothing else. A cluster has many pods, and a corev1.Pod is 1,240 bytes before
// any field is set; a ProxyPod is about a third of that with its strings.
//
// Its ObjectMeta holds only the name, namespace, UID, resource version and creation and deletion
// timestamps. It is a client.Object, so the cache's informer stores it and watches receive it, but
// not a corev1.Pod: read the cached pods through meshctx.Pods, never with a PodList.
type ProxyPod struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Phase is status.phase.
	Phase corev1.PodPhase `json:"phase,omitempty"`
	// ProxyImage is the image of the istio-proxy container (or native sidecar), when HasProxy.
	ProxyImage string `json:"proxyImage,omitempty"`
	// InjectedRevision is the revision the injector's sidecar.istio.io/status annotation names ("default"
	// when it names none), when Injected; "" when the annotation cannot be read.
	InjectedRevision string `json:"injectedRevision,omitempty"`
	// GatewayRevision is the revision in the istio.io/rev annotation of a pod istiod deployed for a
	// Gateway API Gateway (labelled gateway.istio.io/managed): such a pod runs istio-proxy as the
	// gateway, talks to that revision's istiod, and is not injected, so it has no status annotation.
	GatewayRevision string `json:"gatewayRevision,omitempty"`
	// Controller is the pod's controller reference, each field longer than any valid one cut (distinct);
	// empty when it has none.
	Controller PodController `json:"controller,omitzero"`
	// RestartedAt is the time in meshkeeper's mesh.meshkeeper.io/restarted-at annotation, which the pod
	// took from its pod template when it was created; zero when absent or unreadable. The restarts tell
	// by it the pods their restart of the workload created (the same value as the workload's template),
	// which the creation time cannot: that is the API server's clock, the annotation the manager's.
	RestartedAt metav1.Time `json:"restartedAt,omitzero"`
	// HostNetwork is spec.hostNetwork.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// OptedOut tells that the pod's sidecar.istio.io/inject keeps Istio's injector away (see optedOut).
	OptedOut bool `json:"optedOut,omitempty"`
	// HasProxy tells that the pod has an istio-proxy container or init container.
	HasProxy bool `json:"hasProxy,omitempty"`
	// Injected tells that the pod carries the injector's sidecar.istio.io/status annotation.
	Injected bool `json:"injected,omitempty"`
	// InjectedForCNI tells that the pod was injected for a CNI agent: it has the istio-validation init
	// container, which only checks the redirection the agent set up, instead of istio-init, which sets it
	// up itself (the init container, or the injector's status annotation listing it).
	InjectedForCNI bool `json:"injectedForCNI,omitempty"`
	// DiscoveryService is the Service its proxy gets its configuration from, as <name>.<namespace>:
	// the host of the discoveryAddress in the PROXY_CONFIG of its istio-proxy container, which the
	// injector (or istiod, for a gateway it deployed) writes as istiod-<revision>.<namespace>.svc:15012.
	// "" when the pod has no such address, or one that names no Service of the cluster by its name.
	DiscoveryService string `json:"discoveryService,omitempty"`
}

// PodController is a pod's controller reference: what the restarts follow to its workload.
type PodController struct {
	APIVersion string    `json:"apiVersion,omitempty"`
	Kind       string    `json:"kind,omitempty"`
	Name       string    `json:"name,omitempty"`
	UID        types.UID `json:"uid,omitempty"`
}

// NewProxyPod keeps of pod what a ProxyPod holds.
func NewProxyPod(pod *corev1.Pod) *ProxyPod {
	p := &ProxyPod{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID,
			ResourceVersion: pod.ResourceVersion, CreationTimestamp: pod.CreationTimestamp,
			DeletionTimestamp: pod.DeletionTimestamp},
		Phase:       pod.Status.Phase,
		HostNetwork: pod.Spec.HostNetwork,
		OptedOut:    optedOut(pod),
	}
	if c := proxyContainer(pod); c != nil {
		p.HasProxy, p.ProxyImage = true, Bounded(c.Image, maxImageLength)
		p.DiscoveryService = discoveryService(c)
	}
	p.InjectedForCNI = slices.ContainsFunc(pod.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == ValidationContainer })
	if status, ok := pod.Annotations[AnnotationSidecarStatus]; ok {
		s := readSidecarStatus(status)
		p.Injected, p.InjectedRevision = true, Bounded(s.revision, maxRevisionLength)
		p.InjectedForCNI = p.InjectedForCNI || s.validation
	}
	if _, ok := pod.Labels[LabelGatewayManaged]; ok {
		p.GatewayRevision = Bounded(pod.Annotations[LabelIstioRevision], maxRevisionLength)
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		p.Controller = PodController{APIVersion: distinct(ref.APIVersion, maxAPIVersionLength), Kind: distinct(ref.Kind, maxKindLength),
			Name: distinct(ref.Name, maxNameLength), UID: types.UID(distinct(string(ref.UID), maxNameLength))}
	}
	if at, ok := pod.Annotations[meshv1alpha1.RestartedAtAnnotation]; ok {
		// A time in UTC holds no pointer: it costs the ProxyPod 24 bytes and no allocation.
		if t, err := time.Parse(time.RFC3339, at); err == nil {
			p.RestartedAt = metav1.NewTime(t)
		}
	}
	return p
}

// discoveryService reads the Service a proxy container's PROXY_CONFIG names as its discoveryAddress
// (ProxyPod.DiscoveryService): a host <name>.<namespace>, <name>.<namespace>.svc or longer in the
// cluster's domain, with or without its port, whose name and namespace are DNS labels. Anything else,
// an address outside the cluster or a value that is not JSON, names none.
func discoveryService(c *corev1.Container) string {
	for _, env := range c.Env {
		if env.Name != "PROXY_CONFIG" {
			continue
		}
		var config struct {
			DiscoveryAddress string `json:"discoveryAddress"`
		}
		if json.Unmarshal([]byte(env.Value), &config) != nil {
			return ""
		}
		host := config.DiscoveryAddress
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host = host[:i]
		}
		labels := strings.Split(host, ".")
		if len(labels) < 2 || len(labels) > 2 && labels[2] != "svc" {
			return ""
		}
		for _, label := range labels[:2] {
			if len(validation.IsDNS1123Label(label)) > 0 {
				return ""
			}
		}
		return labels[0] + "." + labels[1]
	}
	return ""
}

// maxRevisionLength is the longest revision name: a revision is a DNS label (istiod's Service is
// istiod-<revision>).
const maxRevisionLength = 63

// maxImageLength is longer than any image reference: a repository name has at most 255 characters, a
// tag 128 and a digest some 135.
const maxImageLength = 1024

// Bounded keeps of value, which whoever wrote the object chose, at most limit bytes and one more: a
// longer value stays longer than any valid one, so it still names no revision, image, time, digest,
// workload or UID, and keeps its start (the "apps/" of an API version), while a cache keeps a few bytes
// of it rather than the kilobytes its writer chose.
func Bounded(value string, limit int) string {
	if len(value) <= limit {
		return value
	}
	return strings.Clone(value[:limit+1])
}

// maxAPIVersionLength, maxKindLength and maxNameLength are the longest API version (a group, a DNS
// subdomain, and a version, a DNS label), kind (a DNS label) and name (a DNS subdomain) of an object, and
// longer than any UID the API server gives one. The API server bounds none of them in an owner
// reference: whoever creates the pod writes it.
const (
	maxAPIVersionLength = 253 + 1 + 63
	maxKindLength       = 63
	maxNameLength       = 253
)

// distinct is Bounded for a value that tells one thing from another, a pod's owner by its kind, name and
// UID: a longer value keeps its first limit bytes and one more, and gets the digest of the whole after
// them. So it stays longer than any valid value (it names no workload and matches no UID), keeps its
// start (the "apps/" of an API version, the Deployment's name before a ReplicaSet's suffix), and two
// different values stay different: the pods of two owners are never taken for one owner's.
func distinct(value string, limit int) string {
	if len(value) <= limit {
		return value
	}
	sum := sha256.Sum256([]byte(value))
	return value[:limit+1] + "sha256:" + hex.EncodeToString(sum[:])
}

// optedOut reads sidecar.istio.io/inject as Istio's injector does: the label when the pod has it, else
// the annotation; empty asks for the namespace's default, a value AsksForSidecar for a sidecar, and any
// other value for none.
func optedOut(pod *corev1.Pod) bool {
	value := pod.Annotations[SidecarInject]
	if label, ok := pod.Labels[SidecarInject]; ok {
		value = label
	}
	return value != "" && !AsksForSidecar(value)
}

// capturable tells whether a sidecar would carry the pod's traffic: the pod is neither finished, nor
// being deleted (its endpoints are no longer ready), nor on the node's network (where the sidecar
// captures nothing).
func (p *ProxyPod) capturable() bool {
	return p.DeletionTimestamp == nil && !p.HostNetwork && p.Phase != corev1.PodSucceeded && p.Phase != corev1.PodFailed
}

// AsksForSidecar tells whether a value of sidecar.istio.io/inject asks for a sidecar, as Istio's
// injector reads it: "y", "yes", "true" or "on", in any case.
func AsksForSidecar(value string) bool {
	switch strings.ToLower(value) {
	case "y", "yes", "true", "on":
		return true
	}
	return false
}

// SameProxy tells whether two states of a pod are the same to every reader of a ProxyPod: equal in
// everything but the resource version.
func (p *ProxyPod) SameProxy(q *ProxyPod) bool {
	return p.Name == q.Name && p.Namespace == q.Namespace && p.UID == q.UID &&
		p.CreationTimestamp.Equal(&q.CreationTimestamp) && p.DeletionTimestamp.Equal(q.DeletionTimestamp) &&
		p.Phase == q.Phase && p.ProxyImage == q.ProxyImage && p.InjectedRevision == q.InjectedRevision &&
		p.GatewayRevision == q.GatewayRevision &&
		p.HostNetwork == q.HostNetwork && p.OptedOut == q.OptedOut && p.HasProxy == q.HasProxy &&
		p.Injected == q.Injected && p.InjectedForCNI == q.InjectedForCNI && p.Controller == q.Controller &&
		p.RestartedAt.Equal(&q.RestartedAt) && p.DiscoveryService == q.DiscoveryService
}

// DeepCopyObject implements runtime.Object.
func (p *ProxyPod) DeepCopyObject() runtime.Object {
	if p == nil {
		return nil
	}
	out := *p
	p.DeepCopyInto(&out.ObjectMeta)
	return &out
}
