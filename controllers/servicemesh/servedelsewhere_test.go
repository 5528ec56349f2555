//go:build envtest

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

package servicemesh

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// Another Istio installation in the cluster, its control plane in a namespace of its own, may run a
// revision of the same name as one of the mesh's (a second control plane installed with --revision
// 1-29-0). Its injector writes that revision in the pods it injects, as the mesh's does, but their
// proxies get their configuration from its istiod, as the discovery address it wrote in them says: they
// were counted for the mesh's revision, which they kept from being removed for as long as they ran, and
// a refused upgrade asked to restart them, which would not have released it.
func TestRevisionsDoNotCountThePodsOfAnotherInstallationsIstiod(t *testing.T) {
	c := onAPIServer(t)
	mesh := revisionBasedMesh()
	mesh.Spec.Namespace = testNamespace(t, c, "elsewhere-system")
	mesh.Status.ActiveRevision, mesh.Status.Version = "1-31-0", "1.31.0"
	other := testNamespace(t, c, "other-istio")
	apps := testNamespace(t, c, "elsewhere-apps")
	liveIstiod(t, c, mesh, "1-29-0", "docker.io/istio/pilot:1.29.0")
	liveIstiod(t, c, mesh, "1-31-0", "docker.io/istio/pilot:1.31.0")
	pod := func(name, rev, config string) {
		t.Helper()
		proxy := corev1.Container{Name: policy.ProxyContainer, Image: "docker.io/istio/proxyv2:1.29.0"}
		if config != "" {
			proxy.Env = []corev1.EnvVar{{Name: "PROXY_CONFIG", Value: config}}
		}
		createForTest(t, c, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: apps, Name: name,
			Annotations: map[string]string{policy.AnnotationSidecarStatus: `{"containers":["istio-proxy"],"revision":"` + rev + `"}`}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}, proxy}}})
	}
	address := func(service, namespace string) string {
		return `{"discoveryAddress":"` + service + "." + namespace + `.svc:15012"}` + "\n"
	}
	pod("mesh-app", "1-29-0", address("istiod-1-29-0", mesh.Spec.Namespace))
	pod("unknown-app", "1-29-0", "")
	pod("other-app", "1-29-0", address("istiod-1-29-0", other))
	pod("other-worker", "1-29-0", address("istiod-1-29-0", other))
	// Another namespace's Service of another name is not another installation's istiod of the revision:
	// the mesh's values may point its proxies anywhere.
	pod("relayed-app", "1-31-0", address("istiod-relay", other))

	r := &Reconciler{Client: c, APIReader: c}
	found, _, err := r.observeRevisions(t.Context(), mesh)
	if err != nil {
		t.Fatal(err)
	}
	proxies := map[string]int32{}
	elsewhere := map[string]map[string][]string{}
	for _, f := range found {
		proxies[f.Name] = f.Proxies
		elsewhere[f.Name] = f.Elsewhere
	}
	if want := map[string]int32{"1-29-0": 2, "1-31-0": 1}; proxies["1-29-0"] != want["1-29-0"] || proxies["1-31-0"] != want["1-31-0"] {
		t.Errorf("the revisions' proxies are %v, want %v: the two pods of the other installation's istiod-1-29-0 do not use the mesh's", proxies, want)
	}
	// They show that the other installation's injector selects the revision's label too (RevisionNameShared).
	if want := map[string]map[string][]string{"1-29-0": {"istiod-1-29-0." + other: {apps}}, "1-31-0": nil}; !reflect.DeepEqual(elsewhere, want) {
		t.Errorf("the revisions' pods served elsewhere are %v, want %v", elsewhere, want)
	}
}
