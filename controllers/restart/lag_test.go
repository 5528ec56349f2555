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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// cachedDeployment is a Deployment as the workload cache holds it: rolled out at its generation,
// with meshkeeper's annotation at restartedAt (none when zero).
func cachedDeployment(uid types.UID, restartedAt time.Time) *workload {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: uid, Generation: 3},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), ProgressDeadlineSeconds: ptr.To[int32](60)}}
	if !restartedAt.IsZero() {
		d.Spec.Template.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: restartedAt.UTC().Format(time.RFC3339)}
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	return asWorkload(d)
}

// shop is the enrolled namespace of cachedDeployment's workloads.
var shop = map[string]*corev1.Namespace{"shop": {ObjectMeta: metav1.ObjectMeta{Name: "shop"}}}

// A pass that runs before the cache shows meshkeeper's own apply must not restart the workload again,
// nor take the stale status for the end of the rollout.
func TestAPassBeforeTheCacheShowsTheRestartDoesNotRestartAgain(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	for name, before := range map[string]time.Time{
		"first restart":       {},                            // the cache shows no annotation yet
		"a restart once more": restarted.Add(-2 * time.Hour), // the cache shows the previous restart, rolled out
	} {
		t.Run(name, func(t *testing.T) {
			recorder := events.NewFakeRecorder(10)
			r := &Reconciler{Recorder: recorder}
			applied := cachedDeployment("uid-1", before)
			// What restart does after its apply succeeded.
			applied.restartedAt = restarted
			r.followRollout(applied)
			r.remember(applied)

			// The next pass, one second later: the cache still holds the workload as it was.
			p := &pass{now: restarted.Add(time.Second)}
			stale := cachedDeployment("uid-1", before)
			r.track(p, stale, shop)
			p.candidates = []*candidate{{workload: cachedDeployment("uid-1", before), ready: true,
				newest: restarted.Add(-time.Hour)}}
			if got := p.waiting(); len(got) != 0 {
				t.Errorf("the pass would restart %s again before the cache shows its restart", got[0].key())
			}
			if got := p.status().Restarting; got != 1 {
				t.Errorf("restarting = %d, want 1: the workload is rolling out", got)
			}
			select {
			case e := <-recorder.Events:
				t.Errorf("an Event for a rollout that has not happened: %s", e)
			default:
			}

			// Once the cache shows the apply (a new generation, not yet rolled out), the record goes
			// and the annotation speaks for itself.
			shown := cachedDeployment("uid-1", restarted)
			d := shown.obj.(*appsv1.Deployment)
			d.Generation = 4
			shown = asWorkload(d)
			p = &pass{now: restarted.Add(2 * time.Second)}
			r.track(p, shown, shop)
			if len(p.rolling) != 1 || len(r.written) != 0 {
				t.Errorf("rolling %d, records %v: want the workload rolling and no record once the cache shows the apply", len(p.rolling), r.written)
			}
		})
	}
}

// A workload deleted and created again under the same name is a new workload: meshkeeper's record of
// the old one's restart does not hold it back.
func TestARecordOfAReplacedWorkloadIsDropped(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	r := &Reconciler{}
	applied := cachedDeployment("uid-1", time.Time{})
	applied.restartedAt = restarted
	r.remember(applied)
	p := &pass{now: restarted.Add(time.Minute)}
	r.track(p, cachedDeployment("uid-2", time.Time{}), shop)
	if len(p.rolling) != 0 || len(r.written) != 0 {
		t.Errorf("rolling %d, records %v: want neither for a workload of another UID", len(p.rolling), r.written)
	}
}
