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

package restart

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// revisionMesh is a RevisionBased mesh whose default tag points at 1-31-0, with the revisions given
// and canary namespaces (none when empty).
func revisionMesh(canary []string, revisions ...meshv1alpha1.RevisionStatus) *meshv1alpha1.ServiceMesh {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
	mesh.Spec.UpdateStrategy.Type = meshv1alpha1.UpdateRevisionBased
	if len(canary) > 0 {
		mesh.Spec.UpdateStrategy.Canary = &meshv1alpha1.CanarySpec{Namespaces: canary}
	}
	mesh.Status.ActiveRevision = "1-31-0"
	mesh.Status.Revisions = revisions
	return mesh
}

// A spec.version changed during a restart wave installs its revision beside the one the tag points at,
// and the tag moves to it once it is ready: a workload restarted meanwhile onto the revision the tag
// still points at would get a sidecar that is outdated within seconds, and be restarted a second
// time. Its namespace waits for the new revision instead, as an in-place upgrade waits for its
// istiod, and the wave goes on onto it. A canary namespace waits in the same way for a newer canary
// that will serve it, while the other namespaces, which the tag keeps serving, do not wait; a canary
// rolled back keeps its namespaces on the active revision, which does not wait for it.
func TestANamespaceWaitsForTheNewerRevisionThatTakesItOver(t *testing.T) {
	active := meshv1alpha1.RevisionStatus{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true, Proxies: 8}
	installing := meshv1alpha1.RevisionStatus{Name: "1-31-2", Version: "1.31.2", State: meshv1alpha1.RevisionCanary}
	canary := meshv1alpha1.RevisionStatus{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: true, Proxies: 2}
	rolledBack := meshv1alpha1.RevisionStatus{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Proxies: 2}

	cases := []struct {
		name      string
		mesh      *meshv1alpha1.ServiceMesh
		namespace string
		rev       string
		ready     bool
	}{
		{"no canary, a newer revision installing", revisionMesh(nil, installing, active), "shop", "1-31-0", false},
		{"no canary, nothing installing", revisionMesh(nil, active), "shop", "1-31-0", true},
		{"a canary namespace, a newer canary installing", revisionMesh([]string{"shop"}, installing, canary, active), "shop", "1-31-1", false},
		{"another namespace, a newer canary installing", revisionMesh([]string{"shop"}, installing, canary, active), "pay", "1-31-0", true},
		{"a canary namespace, the canary serving", revisionMesh([]string{"shop"}, canary, active), "shop", "1-31-1", true},
		{"a canary namespace, the first canary installing", revisionMesh([]string{"shop"}, installing, active), "shop", "1-31-0", false},
	}
	withRollback := revisionMesh([]string{"shop"}, rolledBack, active)
	withRollback.Status.CanaryRollback = &meshv1alpha1.CanaryRollbackStatus{Revision: "1-31-1", Workload: "Deployment shop/web",
		Time: metav1.NewTime(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)), ObservedGeneration: 4}
	cases = append(cases, struct {
		name      string
		mesh      *meshv1alpha1.ServiceMesh
		namespace string
		rev       string
		ready     bool
	}{"a canary namespace, its canary rolled back and not ready", withRollback, "shop", "1-31-0", true})

	for _, c := range cases {
		_, rev, ready, _ := serving(c.mesh, c.namespace)
		if rev != c.rev || ready != c.ready {
			t.Errorf("%s: %s is served by %s, ready %t; want %s, ready %t", c.name, c.namespace, rev, ready, c.rev, c.ready)
		}
	}

	// DataPlaneUpToDate names the revision the wave waits for, not the one that serves the namespace now.
	waiting := readyToRestart("shop", "web")
	waiting.ready, waiting.incoming, waiting.target.revision = false, "1-31-2", "1-31-0"
	if why := waiting.heldBack(); !strings.Contains(why, "revision 1-31-2, which serves") {
		t.Errorf("heldBack = %q, want it to name revision 1-31-2, which is not ready", why)
	}
	// A revision that never becomes ready holds the wave for good: the message says where to read why,
	// and how to stop waiting for it.
	stuck := revisionMesh(nil, installing, active)
	stuck.Status.Conditions = []metav1.Condition{{Type: meshv1alpha1.ConditionControlPlaneReady, Status: metav1.ConditionFalse,
		ObservedGeneration: 4, Reason: meshv1alpha1.ReasonProgressDeadlineExceeded}}
	waiting.notAvailable = istiodNotAvailable(stuck)
	why := waiting.heldBack()
	for _, want := range []string{"ControlPlaneReady is False with reason ProgressDeadlineExceeded", "setting spec.version back restarts it onto 1-31-0"} {
		if !strings.Contains(why, want) {
			t.Errorf("heldBack = %q, want it to say %q", why, want)
		}
	}
}
