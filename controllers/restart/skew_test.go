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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// podOfRestart is a pod of cachedDeployment's workload created at created, as the pod cache holds it,
// carrying the restarted-at annotation at (none when zero), which a pod takes from its pod template.
func podOfRestart(created, at time.Time) *policy.ProxyPod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", CreationTimestamp: metav1.NewTime(created)}}
	if !at.IsZero() {
		pod.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: at.UTC().Format(time.RFC3339)}
	}
	return policy.NewProxyPod(pod)
}

// The restarted-at time is the manager's clock, a pod's creation time the API server's: with the
// manager's clock a second ahead, the pods meshkeeper's restart created look older than the restart.
// They carry its annotation, and that, not the clocks, tells that the restart created them: the
// workload is restarted again when what its pods are judged against changes, and held while it does not.
func TestPodsOfARestartAreToldByTheirAnnotationNotTheClocks(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	before, upgraded := target{revision: "default", version: "1.31.1"}, target{revision: "default", version: "1.31.2"}
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	r.rememberTarget(&candidate{workload: cachedDeployment("uid-1", restarted), target: before})
	r.track(&pass{now: restarted.Add(time.Minute)}, cachedDeployment("uid-1", restarted), shop)

	created := restarted.Add(-time.Second)
	candidateOf := func(pod *policy.ProxyPod, judged target) *candidate {
		return &candidate{workload: cachedDeployment("uid-1", restarted), ready: true, target: judged,
			newest: created, oldest: created, sample: pod, pods: []string{"shop/web-1"}}
	}
	later := restarted.Add(24 * time.Hour)

	// Upgraded since: the workload waits for its restart.
	c := candidateOf(podOfRestart(created, restarted), upgraded)
	if r.futile(c) {
		t.Errorf("futile after an upgrade")
	}
	p := &pass{now: later, candidates: []*candidate{c}}
	if got := p.waiting(); len(got) != 1 {
		t.Errorf("waiting %d, want the workload whose pods, created by its last restart a second earlier by the API "+
			"server's clock, need the upgrade", len(got))
	}

	// Nothing changed since: another restart would bring the same sidecar.
	if !r.futile(candidateOf(podOfRestart(created, restarted), before)) {
		t.Errorf("not futile: the pods of the restart, a second earlier by the API server's clock, taken for older ones")
	}

	// A pod of an earlier pod template (another restarted-at value, or none) predates the restart,
	// however close its creation time.
	for name, at := range map[string]time.Time{"another restart": restarted.Add(-time.Hour), "none": {}} {
		c := candidateOf(podOfRestart(created, at), before)
		if r.futile(c) {
			t.Errorf("%s: futile with a pod from before the restart", name)
		}
		p := &pass{now: later, candidates: []*candidate{c}}
		if got := p.waiting(); len(got) != 0 {
			t.Errorf("%s: waiting %d, want none: the rollout has not replaced that pod", name, len(got))
		}
	}

	// Without the pod, the times alone tell, within maxClockSkew.
	c = candidateOf(nil, upgraded)
	p = &pass{now: later, candidates: []*candidate{c}}
	if got := p.waiting(); len(got) != 1 {
		t.Errorf("without the pod: waiting %d, want the workload", len(got))
	}
	c.newest, c.oldest = restarted.Add(-2*maxClockSkew), restarted.Add(-2*maxClockSkew)
	if got := p.waiting(); len(got) != 0 {
		t.Errorf("without the pod: waiting %d, want none for pods from before the restart", len(got))
	}
}

// The pod cache keeps the restarted-at annotation, and SameProxy tells a pod whose annotation changed.
func TestTheProxyPodKeepsTheRestartedAtAnnotation(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	pod := podOfRestart(restarted, restarted)
	if !pod.RestartedAt.Time.Equal(restarted) {
		t.Errorf("RestartedAt = %s, want %s", pod.RestartedAt, restarted)
	}
	if other := podOfRestart(restarted, restarted.Add(time.Hour)); pod.SameProxy(other) {
		t.Errorf("SameProxy of pods of two restarts")
	}
	if got := podOfRestart(restarted, time.Time{}).RestartedAt; !got.IsZero() {
		t.Errorf("RestartedAt = %s of a pod without the annotation", got)
	}
}

// With the manager's clock more than maxClockSkew ahead of the API server's, the pods a restart created
// still count as the restart's for futile: they carry its restarted-at value. Told by their creation
// times instead, a workload whose pod template pins its sidecar was restarted again after every
// cool-off, for as long as the clocks differed.
func TestAFutileRestartIsToldByThePodsAnnotationsWhateverTheSkew(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	judged := target{revision: "default", version: "1.31.1"}
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	r.rememberTarget(&candidate{workload: cachedDeployment("uid-1", restarted), target: judged})
	r.track(&pass{now: restarted.Add(time.Minute)}, cachedDeployment("uid-1", restarted), shop)

	created := restarted.Add(-2 * maxClockSkew) // the API server's clock, two minutes behind
	c := &candidate{workload: cachedDeployment("uid-1", restarted), ready: true, target: judged,
		newest: created, oldest: created, sample: podOfRestart(created, restarted), pods: []string{"shop/web-1", "shop/web-2"}}
	if !r.futile(c) {
		t.Errorf("not futile: the pods of the restart, two minutes earlier by the API server's clock, taken for older ones")
	}
	// One of its pods from before the restart (its annotation says so) makes it worth a restart again.
	c.older = true
	if r.futile(c) {
		t.Errorf("futile with a pod from before the restart")
	}
}
