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

// InjectedRevision is the revision that injected the sidecar a pod runs, from its
// sidecar.istio.io/status annotation; "" when the pod carries none, or runs no istio-proxy container:
// whoever creates a pod writes its annotations, and a pod that only claims a revision, with no proxy
// of it, would otherwise keep that revision installed for ever. An injector that names no revision is
// the default one.
func InjectedRevision(pod *ProxyPod) string {
	if !pod.Injected || !pod.HasProxy {
		return ""
	}
	return pod.InjectedRevision
}

// ProxyRevision is the revision whose istiod a pod's proxy depends on for its configuration and
// certificates: the one that injected its sidecar (InjectedRevision), or, for a gateway istiod deployed
// for a Gateway API Gateway, the revision its istio.io/rev annotation names; "" when the pod runs no
// istio-proxy container. A revision removed under such a gateway leaves it without xDS and without
// certificate renewal, though nothing injected it.
func ProxyRevision(pod *ProxyPod) string {
	if rev := InjectedRevision(pod); rev != "" || !pod.HasProxy {
		return rev
	}
	return pod.GatewayRevision
}

// ImageVersion is the Istio version an image's tag names ("" when it names none).
func ImageVersion(image string) string { return imageVersion(image) }
