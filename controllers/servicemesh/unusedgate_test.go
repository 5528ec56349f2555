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
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// A mesh upgraded from 1.29 to 1.31 with a canary keeps the 1.29 revision for its grace period once its
// last pod is gone. That revision serves nothing: it neither holds back the next step, 1.31 to 1.32,
// nor, refusing it, is kept for ever (the refusal came before the revision could be removed). While a
// pod still runs its proxy, the step is refused: that proxy would be three minor versions behind.
func TestUpgradeGateLooksAtTheRevisionsInUse(t *testing.T) {
	for name, tc := range map[string]struct {
		pods    bool
		refused bool
	}{
		"no pod of 1.29 left":   {},
		"a pod of 1.29 running": {pods: true, refused: true},
	} {
		t.Run(name, func(t *testing.T) {
			mesh := revisionBasedMesh()
			mesh.Spec.Version = "1.32.0"
			mesh.Status.ActiveRevision, mesh.Status.Version = "1-31-0", "1.31.0"
			r, _ := revisionChartsReconciler(t, mesh, []string{"1.29.0", "1.31.0", "1.32.0"},
				revisionIstiod(mesh, "1-29-0", "docker.io/istio/pilot:1.29.0"),
				revisionIstiod(mesh, "1-31-0", "docker.io/istio/pilot:1.31.0"))
			if tc.pods {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-1",
					Annotations: map[string]string{policy.AnnotationSidecarStatus: `{"revision":"1-29-0"}`}},
					Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: policy.ProxyContainer}}},
					Status: corev1.PodStatus{Phase: corev1.PodRunning}}
				if err := r.Create(t.Context(), pod); err != nil {
					t.Fatal(err)
				}
			}
			_, err := r.reconcileRevisions(t.Context(), mesh, "1.32.0")
			refused := err != nil && strings.Contains(err.Error(), "cannot be reached")
			if refused != tc.refused {
				t.Errorf("reconcileRevisions to 1.32.0 = %v; want refused %v", err, tc.refused)
			}
			// 1.31 runs already: the way on is releasing 1-29-0, not going through 1.31.
			if want := "revision 1-29-0 (Istio 1.29.0) still runs because 1 pod(s) run its proxy"; refused && !strings.Contains(err.Error(), want) {
				t.Errorf("reconcileRevisions to 1.32.0 = %v; want it to say %q", err, want)
			}
		})
	}
}
