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

package controlplane

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// startMeshWithAgent is the setup of the CNI specs: it creates the namespaces given and, once any other
// ServiceMesh is gone, the ServiceMesh of spec (its spec: lines), whose control plane and CNI agent run
// in ns, deleted again when the container ends; then it waits until the mesh is Ready with its agent
// recorded there (status.cni.namespace).
//
// No Deployment or DaemonSet controller runs in this tier. Each round of the wait marks istiod and the
// agent rolled out for the generation they have then (markRolledOut), as those controllers would, rather
// than once: a change the install makes to either after a first mark (an apply that follows, the agent's
// priority class) is marked too instead of holding Ready back for good. The install goes on while the
// mesh is not Stalled, which on a loaded machine may take longer than installTimeout: the wait allows
// setupTimeout, and ends at once, saying why, when the mesh is Stalled (a failure no retry fixes). A
// wait that fails says what the mesh reports.
func startMeshWithAgent(ns, spec string, namespaces ...string) {
	GinkgoHelper()
	deleteMesh()
	for _, name := range namespaces {
		createNamespace(name, nil, nil)
	}
	DeferCleanup(deleteMesh)
	createMesh(spec)
	Eventually(func(g Gomega) {
		mesh := getMesh()
		if stalled := meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionStalled); stalled != nil &&
			stalled.Status == metav1.ConditionTrue {
			StopTrying(fmt.Sprintf("the mesh is Stalled: %s: %s; its conditions: %+v", stalled.Reason, stalled.Message, mesh.Status.Conditions)).Now()
		}
		markRolledOut(g, ns, mesh)
		g.Expect(mesh.Status.CNI).NotTo(BeNil(), "the mesh has not recorded whether it runs CNI; its conditions: %+v", mesh.Status.Conditions)
		g.Expect(mesh.Status.CNI.Namespace).To(Equal(ns), "the agent is not recorded; the mesh's conditions: %+v", mesh.Status.Conditions)
		g.Expect(meta.IsStatusConditionTrue(mesh.Status.Conditions, meshv1alpha1.ConditionReady)).To(BeTrue(),
			"the mesh is not Ready; its conditions: %+v", mesh.Status.Conditions)
	}, setupTimeout, poll).Should(Succeed())
}

// setupTimeout bounds startMeshWithAgent's wait for a mesh that keeps installing.
const setupTimeout = 5 * time.Minute

// markRolledOut writes the status of istiod's Deployment in ns, and of the CNI agent's DaemonSet there,
// as their controllers would once every replica, and the agent on each of cniNodes nodes, runs the
// current generation ready and available. A status that says so already is not written again. mesh is
// the ServiceMesh as last read, whose conditions a failure names.
func markRolledOut(g Gomega, ns string, mesh *meshv1alpha1.ServiceMesh) {
	d := &appsv1.Deployment{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istiod"}, d)).To(Succeed(),
		"istiod is not installed; the mesh's conditions: %+v", mesh.Status.Conditions)
	replicas := ptr.Deref(d.Spec.Replicas, 1)
	if st := d.Status; st.ObservedGeneration != d.Generation || st.Replicas != replicas || st.UpdatedReplicas != replicas ||
		st.ReadyReplicas != replicas || st.AvailableReplicas != replicas {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas,
			UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas}
		g.Expect(k8sClient.Status().Update(ctx, d)).To(Succeed())
	}
	ds := &appsv1.DaemonSet{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-node"}, ds)).To(Succeed(),
		"the CNI agent is not installed; the mesh's conditions: %+v", mesh.Status.Conditions)
	if st := ds.Status; st.ObservedGeneration != ds.Generation || st.DesiredNumberScheduled != cniNodes ||
		st.UpdatedNumberScheduled != cniNodes || st.NumberReady != cniNodes || st.NumberAvailable != cniNodes {
		setCNIStatus(g, ns, cniNodes, cniNodes)
	}
}

// loseStatus empties the ServiceMesh's status whole, as a restore from a backup without it or a
// replaced object leaves it.
func loseStatus() {
	GinkgoHelper()
	Eventually(func() error {
		mesh := getMesh()
		mesh.Status = meshv1alpha1.ServiceMeshStatus{}
		return k8sClient.Status().Update(ctx, mesh)
	}, installTimeout, poll).Should(Succeed())
}
