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
