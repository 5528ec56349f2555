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

package restart_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestNotRestartableIsSentForANewOwnerOnly: the NotRestartable Warning marks a new owner of pods
// meshkeeper does not restart: pods of one already reported that finish, or come and go within a day,
// are no news, and the runs of one CronJob are one owner. Pods of an owner that none of the last day's
// passes found are news again, and back from Manual the restarts start over, and what holds then is
// reported again.
func TestNotRestartableIsSentForANewOwnerOnly(t *testing.T) {
	f := newFixture(t, "jobs", nil)
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns

	// jobPod creates a pod of Job <job> without a sidecar, as the Job controller would.
	jobPod := func(job, name string) {
		t.Helper()
		g.Expect(c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job,
				UID: types.UID("0d4c7b5e-job-" + job), Controller: ptr.To(true)}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "run", Image: "busybox"}}}})).To(Succeed())
	}
	finished := func(names ...string) {
		t.Helper()
		for _, name := range names {
			g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
				client.GracePeriodSeconds(0))).To(Succeed())
		}
	}
	setMode := func(mode meshv1alpha1.RestartMode) {
		t.Helper()
		mesh := &meshv1alpha1.ServiceMesh{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
		mesh.Spec.DataPlane.Restarts.Mode = mode
		g.Expect(c.Update(ctx, mesh)).To(Succeed())
		installed(ctx, g, c)
	}

	_, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	at := time.Now().UTC().Truncate(time.Second)
	named := func(step string, want int, job string) {
		t.Helper()
		pass(at)
		at = at.Add(time.Minute)
		got := withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)
		g.Expect(got).To(HaveLen(want), "%s: NotRestartable Events", step)
		for _, e := range got {
			g.Expect(e).To(ContainSubstring("Job "+job), "%s: the Event names the Job", step)
		}
	}
	check := func(step string, want int) {
		t.Helper()
		named(step, want, "nightly-29")
	}

	jobPod("nightly-29", "nightly-29-a")
	jobPod("nightly-29", "nightly-29-b")
	jobPod("nightly-29", "nightly-29-c")
	check("three pods of a Job", 1)
	finished("nightly-29-a")
	check("one of them finished", 0)
	check("nothing changed", 0)
	jobPod("nightly-30", "nightly-30-a")
	check("a pod of another Job", 1)
	finished("nightly-29-b", "nightly-29-c")
	check("the first Job's pods finished", 0)

	finished("nightly-30-a")
	jobPod("nightly-29", "nightly-29-d")
	check("a pod of the first Job again, within a day", 0)
	finished("nightly-29-d")
	check("that pod finished", 0)
	at = at.Add(24 * time.Hour)
	jobPod("nightly-29", "nightly-29-e")
	check("a pod of the first Job again, a day after any pass last found one", 1)
	setMode(meshv1alpha1.RestartManual)
	check("restarts set to Manual", 0)
	setMode(meshv1alpha1.RestartAutomatic)
	check("restarts set back to Automatic", 1)

	// A CronJob's runs are Jobs named after it and their scheduled minute: each run's pods come and
	// go, and the next run is not news.
	jobPod("backup-29412345", "backup-29412345-a")
	named("a run of a CronJob", 1, "backup-29412345")
	finished("backup-29412345-a")
	check("the run finished", 0)
	jobPod("backup-29412350", "backup-29412350-a")
	check("the CronJob's next run", 0)
	finished("backup-29412350-a")
	jobPod("backup-manual-1", "backup-manual-1-a")
	named("a Job of another name", 1, "backup-manual-1")
}
