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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestWhatAPodsOwnerChainRestarts: a pod is followed to the Deployment, StatefulSet or DaemonSet that
// controls it, and only there. A ReplicaSet of no Deployment and a custom kind (a KubeVirt
// VirtualMachineInstance's launcher pod) are no workload meshkeeper restarts: their pods count as not
// restartable, named with their owner. An owner reference that is not the controller's (one kept for
// garbage collection) does not make another controller the workload's owner: the Deployment is
// restarted. A Deployment with strategy Recreate is restarted like any other, and the restart writes
// nothing but its annotations: the replica count an autoscaler set and the strategy stay. A namespace
// being deleted is no longer enrolled: nothing of it is restarted.
func TestWhatAPodsOwnerChainRestarts(t *testing.T) {
	f := newFixture(t, "chain", ptr.To[int32](10))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns

	recreate := createRolledOut(ctx, g, c, ns, "recreate", "")
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(recreate), recreate)).To(Succeed())
	recreate.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	recreate.Spec.Replicas = ptr.To[int32](3) // as a HorizontalPodAutoscaler scaled it
	g.Expect(c.Update(ctx, recreate)).To(Succeed())
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(recreate), recreate); err != nil {
			return err
		}
		recreate.Status = appsv1.DeploymentStatus{ObservedGeneration: recreate.Generation, Replicas: 3, UpdatedReplicas: 3,
			ReadyReplicas: 3, AvailableReplicas: 3}
		return c.Status().Update(ctx, recreate)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())

	collected := createRolledOut(ctx, g, c, ns, "collected", "")
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(collected), collected)).To(Succeed())
	collected.OwnerReferences = []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Bundle", Name: "shop",
		UID: "7c1d2e3f-bundle"}}
	g.Expect(c.Update(ctx, collected)).To(Succeed())

	labels := map[string]string{"app": "solo"}
	solo := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "solo", Labels: labels},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}}}}
	g.Expect(c.Create(ctx, solo)).To(Succeed())
	pod := func(name string, owner metav1.OwnerReference) {
		t.Helper()
		owner.Controller = ptr.To(true)
		g.Expect(c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			OwnerReferences: []metav1.OwnerReference{owner}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}})).To(Succeed())
	}
	pod("solo-x2k9d", metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: solo.Name, UID: solo.UID})
	pod("virt-launcher-vm-7hq4c", metav1.OwnerReference{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Name: "vm",
		UID: "3a9e8f7d-vmi"})

	// A second enrolled namespace, being deleted: its namespace finalizer keeps it, as the namespace
	// controller would until its content is gone.
	leaving := f.name + "-leaving"
	g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaving,
		Labels: map[string]string{"istio-injection": "enabled"}}})).To(Succeed())
	mesh := &meshv1alpha1.ServiceMesh{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
	mesh.Spec.Injection.Namespaces = append(mesh.Spec.Injection.Namespaces, leaving)
	g.Expect(c.Update(ctx, mesh)).To(Succeed())
	installed(ctx, g, c)
	gone := createRolledOut(ctx, g, c, leaving, "gone", "")
	g.Expect(c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaving}})).To(Succeed())
	g.Eventually(func() *metav1.Time {
		n := &corev1.Namespace{}
		_ = c.Get(ctx, client.ObjectKey{Name: leaving}, n)
		return n.DeletionTimestamp
	}, 10*time.Second, 20*time.Millisecond).ShouldNot(BeNil())

	waitCached(ctx, g, workloads, recreate, collected, gone)
	g.Eventually(func() error {
		rs := &metav1.PartialObjectMetadata{}
		rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
		return workloads.Get(ctx, client.ObjectKeyFromObject(solo), rs)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())

	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	restartedAt := func(obj client.Object) string { return restartedAt(ctx, g, c, obj) }
	at := time.Now().UTC().Truncate(time.Second)
	pass(at)
	stamp := at.Format(time.RFC3339)
	g.Expect(restartedAt(recreate)).To(Equal(stamp), "a Deployment with strategy Recreate is restarted")
	g.Expect(recreate.Spec.Replicas).To(Equal(ptr.To[int32](3)), "the restart keeps the replica count")
	g.Expect(recreate.Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
	g.Expect(restartedAt(collected)).To(Equal(stamp), "an owner reference that is not the controller's holds nothing back")
	g.Expect(restartedAt(gone)).To(BeEmpty(), "nothing of a namespace being deleted is restarted")
	report := r.Report.Value()
	g.Expect(report.NotRestartable).To(BeEquivalentTo(2), "the ReplicaSet's pod and the virtual machine's")
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)).To(ConsistOf(And(
		ContainSubstring("2 belong to no Deployment, StatefulSet or DaemonSet"),
		ContainSubstring(ns+"/solo-x2k9d (ReplicaSet solo)"),
		ContainSubstring(ns+"/virt-launcher-vm-7hq4c (VirtualMachineInstance vm)"),
	)))
}
