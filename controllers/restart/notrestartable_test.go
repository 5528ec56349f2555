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
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// jobPod is a pod of Job ci/<job> without a sidecar.
func jobPod(job, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: name, UID: types.UID("pod-" + name),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job, UID: types.UID("job-" + job),
			Controller: ptr.To(true)}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "run", Image: "busybox"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
}

// The NotRestartable Warning marks a new owner of pods meshkeeper does not restart: pods of one already
// reported that finish, or come and go, are no news.
func TestNotRestartableIsSentForANewOwnerOnly(t *testing.T) {
	at := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	s := newPasses(t, at)
	check := func(step string, want int) {
		t.Helper()
		s.pass(t, at)
		at = at.Add(time.Minute)
		got := withReason(s.events(), meshv1alpha1.ReasonNotRestartable)
		if len(got) != want {
			t.Errorf("%s: NotRestartable Events %q, want %d", step, got, want)
		}
		for _, e := range got {
			if !strings.Contains(e, "Job nightly-29") {
				t.Errorf("%s: the Event does not name the Job: %s", step, e)
			}
		}
	}

	s.pods = listedPods{jobPod("nightly-29", "nightly-29-a"), jobPod("nightly-29", "nightly-29-b"), jobPod("nightly-29", "nightly-29-c")}
	check("three pods of a Job", 1)
	s.pods = s.pods[1:]
	check("one of them finished", 0)
	check("nothing changed", 0)
	s.pods = append(s.pods, jobPod("nightly-30", "nightly-30-a"))
	check("a pod of another Job", 1)
	s.pods = s.pods[2:]
	check("the first Job's pods finished", 0)

	// Back from Manual, the restarts start over: what holds then is reported again.
	s.pods = listedPods{jobPod("nightly-29", "nightly-29-d")}
	setMode := func(mode meshv1alpha1.RestartMode) {
		t.Helper()
		mesh := &meshv1alpha1.ServiceMesh{}
		if err := s.store.Get(context.Background(), client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
			t.Fatal(err)
		}
		mesh.Spec.DataPlane.Restarts.Mode = mode
		if err := s.store.Update(context.Background(), mesh); err != nil {
			t.Fatal(err)
		}
	}
	check("a pod of the first Job again", 1)
	setMode(meshv1alpha1.RestartManual)
	check("restarts set to Manual", 0)
	setMode(meshv1alpha1.RestartAutomatic)
	check("restarts set back to Automatic", 1)
}
