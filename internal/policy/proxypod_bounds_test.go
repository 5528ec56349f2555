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
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// TestProxyPodKeepsNoUnboundedClaim: whoever creates a pod writes its sidecar.istio.io/status annotation
// and its containers' images, up to the API server's limits on an object (an annotation alone may hold
// 256 KiB). The manager caches every pod of the cluster as a ProxyPod, stripped so that a pod costs it a
// few hundred bytes; a revision or image copied whole would make each such pod cost what its creator
// chose. A revision is a DNS label, and an image reference has at most a few hundred characters: longer
// ones name nothing meshkeeper installs, and are kept just long enough to stay so.
func TestProxyPodKeepsNoUnboundedClaim(t *testing.T) {
	long := strings.Repeat("a", 200<<10)
	pod := NewProxyPod(appPod(injected(long, "docker.io/istio/proxyv2:1.31.1-"+long)))
	if !pod.Injected || !pod.HasProxy {
		t.Fatalf("Injected = %v, HasProxy = %v; want the pod read as injected, with a proxy", pod.Injected, pod.HasProxy)
	}
	if n := len(pod.InjectedRevision); n > 64 {
		t.Errorf("InjectedRevision keeps %d bytes; want at most %d", n, 64)
	}
	if n := len(pod.ProxyImage); n > 1025 {
		t.Errorf("ProxyImage keeps %d bytes; want at most %d", n, 1025)
	}
	for _, rev := range []string{"default", "1-31-1", strings.Repeat("a", 63)} {
		if InjectedRevision(pod) == rev {
			t.Errorf("the pod is counted for revision %q, which its annotation does not name", rev)
		}
	}
	if got := ImageVersion(pod.ProxyImage); got == "1.31.1" {
		t.Errorf("ImageVersion = %q; an image longer than any reference names no version", got)
	}

	// A pod as istiod injects it keeps its revision and image whole.
	pod = NewProxyPod(appPod(injected("1-31-1", "docker.io/istio/proxyv2:1.31.1")))
	if pod.InjectedRevision != "1-31-1" || pod.ProxyImage != "docker.io/istio/proxyv2:1.31.1" {
		t.Errorf("InjectedRevision = %q, ProxyImage = %q; want 1-31-1 and docker.io/istio/proxyv2:1.31.1", pod.InjectedRevision, pod.ProxyImage)
	}
}

// TestProxyPodKeepsABoundedControllerOfEachOwner: whoever creates a pod writes its controller reference,
// and the API server bounds none of its API version, kind, name or UID, so a namespace owner could make
// each of their pods cost the manager a mebibyte. The restarts follow the reference to the pod's
// workload and tell owners apart by it: cut, it must still name no workload, keep the start the readers
// match, and keep two owners two.
func TestProxyPodKeepsABoundedControllerOfEachOwner(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	owned := func(apiVersion, kind, name, uid string) *ProxyPod {
		return NewProxyPod(appPod(func(pod *corev1.Pod) {
			pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid),
				Controller: ptr.To(true)}}
		}))
	}
	pod := owned("apps/"+long, "ReplicaSet"+long, "web-"+long, "u"+long)
	c := pod.Controller
	for field, value := range map[string]string{"apiVersion": c.APIVersion, "kind": c.Kind, "name": c.Name, "uid": string(c.UID)} {
		if len(value) > 400 {
			t.Errorf("the controller's %s keeps %d bytes; want at most 400", field, len(value))
		}
	}
	if !strings.HasPrefix(c.APIVersion, "apps/") || !strings.HasPrefix(c.Name, "web-") {
		t.Errorf("the controller is %.20q %.20q; want the start of its API version and name kept", c.APIVersion, c.Name)
	}
	if len(c.Kind) <= 63 || len(c.Name) <= 253 || len(c.UID) <= 253 {
		t.Errorf("the controller's kind, name or UID is cut to a valid length (%d, %d, %d): it could name another owner", len(c.Kind), len(c.Name), len(c.UID))
	}
	// Two owners whose names differ only past the bound stay two.
	other := owned("apps/"+long, "ReplicaSet"+long, "web-"+long+"b", "u"+long)
	if other.Controller == c {
		t.Error("two owners whose names differ past the bound are taken for one")
	}
	if again := owned("apps/"+long, "ReplicaSet"+long, "web-"+long, "u"+long); again.Controller != c {
		t.Error("one owner's pods are taken for two owners'")
	}

	// A controller as the API server and the workload controllers write it is kept whole.
	want := PodController{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9c5b8f6d", UID: "5b2d7c4e-1a3f-4e6b-8c9d-0e1f2a3b4c5d"}
	if got := owned(want.APIVersion, want.Kind, want.Name, string(want.UID)).Controller; got != want {
		t.Errorf("Controller = %+v; want %+v", got, want)
	}
}
