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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// TestAWorkloadWithAPodNotAvailableWaitsForIt: a DaemonSet that runs a pod of its current template on
// every node, one of them on a node gone NotReady, is not rolled out, and is not restarted while it is
// not (its restart's rollout could stop at that pod). It does not roll out by itself either: nothing
// rolls out until the node is back or gone. The status says so and what to do, instead of that it
// rolls out by itself, which had its owner wait for ever; so too for a Deployment whose rollout
// completed with a pod not available. Once every pod is available, it is restarted.
func TestAWorkloadWithAPodNotAvailableWaitsForIt(t *testing.T) {
	f := newFixture(t, "unavailable", nil)
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	r, _, pass := clockedReconciler(ctx, t, g, c, workloads)
	base := time.Now().UTC().Truncate(time.Second)

	t.Log("a Deployment whose rollout completed has a pod not available")
	api := createRolledOut(ctx, g, c, ns, "api", "")
	setDeploymentStatus(ctx, g, c, api, 1, 0, newReplicaSetAvailable())
	waitCached(ctx, g, workloads, api)
	pass(base)
	g.Expect(restartedAt(ctx, g, c, api)).To(BeEmpty(), "restarted with a pod not available")
	g.Expect(r.Report.Value()).To(Equal(restart.Status{Pending: 1, Waiting: "Deployment " + ns + "/api rolled out its current " +
		"pod template, but 1 of its 1 pod(s) are not available, on a node that is NotReady (kubectl get nodes), or not starting " +
		"(kubectl describe pods), or waiting for a node; meshkeeper restarts it once every pod of it is available"}))

	t.Log("a DaemonSet runs a pod of its current template on every node, one of them gone NotReady")
	labels := map[string]string{"app": "agent"}
	agent := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/agent:1.0"}}}}}}
	g.Expect(c.Create(ctx, agent)).To(Succeed())
	// status writes what the DaemonSet controller would of the current generation on three nodes, each
	// running a pod of the current template, available of them available.
	status := func(available int32) {
		t.Helper()
		g.Eventually(func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(agent), agent); err != nil {
				return err
			}
			agent.Status = appsv1.DaemonSetStatus{ObservedGeneration: agent.Generation, DesiredNumberScheduled: 3,
				CurrentNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberReady: available, NumberAvailable: available,
				NumberUnavailable: 3 - available}
			return c.Status().Update(ctx, agent)
		}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
		waitCached(ctx, g, workloads, agent)
	}
	// The node lifecycle controller marks the pod of a NotReady node not ready.
	status(2)
	for _, name := range []string{"agent-a", "agent-b", "agent-c"} {
		createPodOf(ctx, g, c, agent, name, false)
	}
	pass(base.Add(time.Minute))
	g.Expect(restartedAt(ctx, g, c, agent)).To(BeEmpty(), "restarted with a pod not available")
	g.Expect(r.Report.Value()).To(Equal(restart.Status{Pending: 2, Waiting: "DaemonSet " + ns + "/agent runs a pod of its " +
		"current pod template on each of its 3 node(s), but 1 of them are not available, on a node that is NotReady (kubectl get " +
		"nodes), or not starting (kubectl describe pods); meshkeeper restarts it once every pod of it is available (a restart's " +
		"rollout would count them against its maxUnavailable and could stop at them): bring the node back, delete the Node of a " +
		"machine that is gone, or fix the pod"}))

	t.Log("the node is back")
	status(3)
	at := base.Add(2 * time.Minute)
	pass(at)
	g.Expect(restartedAt(ctx, g, c, agent)).To(Equal(at.Format(time.RFC3339)), "not restarted once every pod is available")
}
