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
	"context"
	"maps"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestACanaryRolledBackStaysRolledBackAfterAFailover: a manager that takes over after meshkeeper
// rolled a canary back (a restart of meshkeeper, another replica after a leader election) finds the
// rollback in status.canaryRollback: it does not roll the canary back a second time, restarts the
// workload whose restart onto the canary stalled once more onto the active revision, and a manager
// that takes over again while that restart rolls out restarts it no third time (docs/upgrade.md, "When
// a canary is rolled back").
func TestACanaryRolledBackStaysRolledBackAfterAFailover(t *testing.T) {
	f := newFixture(t, "canaryfailover", nil)
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	const active, canary = "1-31-0", "1-31-1"

	t.Log("a RevisionBased mesh whose canary revision serves the namespace")
	mesh := &meshv1alpha1.ServiceMesh{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{ns}}}
	g.Expect(c.Update(ctx, mesh)).To(Succeed())
	mesh.Status.ActiveRevision = active
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: active, Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true, Proxies: 1},
		{Name: canary, Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: true},
	}
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
	installed(ctx, g, c)
	relabel(ctx, g, c, ns, map[string]string{"istio.io/rev": canary})

	checkout := createRolledOut(ctx, g, c, ns, "checkout", "")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	createPodOfRevision(ctx, g, c, checkout, "checkout-active", active, "1.31.0")
	waitCached(ctx, g, f.workloads, checkout)

	first, firstRecorder, firstPass := clockedReconciler(ctx, t, g, c, f.workloads)
	base := time.Now().UTC().Truncate(time.Second)
	firstPass(base)
	g.Expect(restartedAt(ctx, g, c, checkout)).To(Equal(base.Format(time.RFC3339)))
	g.Expect(checkout.Spec.Template.Annotations).To(HaveKeyWithValue(meshv1alpha1.RestartedOntoAnnotation, canary))
	drain(firstRecorder)

	t.Log("its new pod, of the canary revision, never gets ready: the Deployment controller says the rollout stalled")
	createPodOfRevision(ctx, g, c, checkout, "checkout-canary", canary, "1.31.1")
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(checkout), checkout); err != nil {
			return err
		}
		now := metav1.Now()
		checkout.Status = appsv1.DeploymentStatus{ObservedGeneration: checkout.Generation, Replicas: 2, UpdatedReplicas: 1,
			ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
				Reason: "ProgressDeadlineExceeded", LastUpdateTime: now, LastTransitionTime: now}}}
		return c.Status().Update(ctx, checkout)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	waitCached(ctx, g, f.workloads, checkout)
	firstPass(base.Add(70 * time.Second))
	rollback := first.Report.Value().CanaryRollback
	g.Expect(rollback).NotTo(BeNil(), "the first manager rolls the canary back")
	g.Expect(rollback.Revision).To(Equal(canary))
	g.Expect(withReason(drain(firstRecorder), meshv1alpha1.ReasonCanaryRolledBack)).To(HaveLen(2))

	t.Log("the status records the rollback, the namespace goes back to the active revision, and the first manager stops")
	g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
	mesh.Status.CanaryRollback = rollback
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
	relabel(ctx, g, c, ns, map[string]string{"istio-injection": "enabled"})

	second, secondRecorder, secondPass := clockedReconciler(ctx, t, g, c, startWorkloadCache(ctx, g, f.env))
	again := base.Add(80 * time.Second)
	secondPass(again)
	g.Expect(second.Report.Value().CanaryRollback).To(BeNil(), "the status records the rollback already")
	g.Expect(withReason(drain(secondRecorder), meshv1alpha1.ReasonCanaryRolledBack)).To(BeEmpty(),
		"the canary is rolled back a second time")
	g.Expect(restartedAt(ctx, g, c, checkout)).To(Equal(again.Format(time.RFC3339)),
		"the workload whose restart onto the canary stalled is restarted onto the active revision")
	g.Expect(checkout.Spec.Template.Annotations).To(HaveKeyWithValue(meshv1alpha1.RestartedOntoAnnotation, active))
	generation := checkout.Generation

	t.Log("a third manager takes over while that restart rolls out")
	third, thirdRecorder, thirdPass := clockedReconciler(ctx, t, g, c, startWorkloadCache(ctx, g, f.env))
	thirdPass(again.Add(20 * time.Second))
	g.Expect(restartedAt(ctx, g, c, checkout)).To(Equal(again.Format(time.RFC3339)), "the workload is restarted a third time")
	g.Expect(checkout.Generation).To(Equal(generation))
	g.Expect(third.Report.Value().Restarting).To(BeEquivalentTo(1))
	g.Expect(third.Report.Value().CanaryRollback).To(BeNil())
	g.Expect(withReason(drain(thirdRecorder), meshv1alpha1.ReasonCanaryRolledBack)).To(BeEmpty())
}

// relabel replaces the namespace's labels, as the namespace controller moves it between revisions.
func relabel(ctx context.Context, g Gomega, c client.Client, name string, labels map[string]string) {
	g.Eventually(func() error {
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
			return err
		}
		ns.Labels = maps.Clone(labels)
		return c.Update(ctx, ns)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
}

// createPodOfRevision creates a pod of the Deployment's ReplicaSet, injected by revision with the proxy
// of version, carrying the annotations of the Deployment's pod template as it is now.
func createPodOfRevision(ctx context.Context, g Gomega, c client.Client, d *appsv1.Deployment, name, revision, version string) {
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	rs := &appsv1.ReplicaSet{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: d.Name + "-1"}, rs)).To(Succeed())
	annotations := maps.Clone(d.Spec.Template.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["sidecar.istio.io/status"] = `{"containers":["istio-proxy"],"revision":"` + revision + `"}`
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: name, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"},
			{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:" + version}}},
	}
	g.Expect(c.Create(ctx, pod)).To(Succeed())
}
