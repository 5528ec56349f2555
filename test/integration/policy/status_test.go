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

package policy_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/servicemesh"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// installsNothing is a chart manager that finds every release in sync and installs nothing, so that the
// policy CRDs appear when the test creates them, after the status said they were missing: with the real
// charts the CRDs come within the same second, and only sometimes after the status looked. It counts
// the reconciler's requests to return its memory.
type installsNothing struct{ memoryReturns *atomic.Int32 }

func (installsNothing) Ensure(context.Context, helm.Release) (helm.Result, error) {
	return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
}

func (installsNothing) Uninstall(context.Context, string, string, helm.Owner) (bool, error) {
	return false, nil
}

func (c installsNothing) ReturnMemory() {
	if c.memoryReturns != nil {
		c.memoryReturns.Add(1)
	}
}

// TestTheStatusFollowsThePolicyKinds: a status that found the policy kinds not served is computed again
// as soon as discovery serves them, with nothing else changing. Before, nothing brought the ServiceMesh
// back, and a new mesh could stay not Ready with PoliciesApplied=False (IstioCRDsMissing) for good.
func TestTheStatusFollowsThePolicyKinds(t *testing.T) {
	g := NewWithT(t)
	env, ctx := start(t, g)
	c := env.Client

	condition := startMesh(ctx, g, env, installsNothing{}, "status-system")
	policies := func(g Gomega) *metav1.Condition { return condition(g, meshv1alpha1.ConditionPoliciesApplied) }
	g.Eventually(func(g Gomega) {
		g.Expect(policies(g).Reason).To(Equal(meshv1alpha1.ReasonIstioCRDsMissing))
	}, 30*time.Second, 50*time.Millisecond).Should(Succeed())

	// istio-base creates the CRDs; nothing else changes. The status must follow within seconds, well
	// before any timer or batch of the data plane's changes would bring it back.
	for _, crd := range istioCRDs(t) {
		g.Expect(c.Create(ctx, crd)).To(Succeed())
	}
	g.Eventually(func(g Gomega) {
		g.Expect(policies(g).Reason).NotTo(Equal(meshv1alpha1.ReasonIstioCRDsMissing))
	}, 5*time.Second, 50*time.Millisecond).Should(Succeed(), "the status still says the policy kinds are missing")
}

// TestReadyReturnsTheChartManagersMemory: the reconciler asks the chart manager to give back what its
// installs and upgrades left behind once the mesh is Ready, and not before.
func TestReadyReturnsTheChartManagersMemory(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client

	chartManager := installsNothing{memoryReturns: &atomic.Int32{}}
	condition := startMesh(ctx, g, env, chartManager, "ready-system")
	ready := func(g Gomega) *metav1.Condition { return condition(g, meshv1alpha1.ConditionReady) }
	// Without istiod the mesh is not Ready, and nothing is returned.
	g.Eventually(func(g Gomega) {
		g.Expect(ready(g).Reason).To(Equal(meshv1alpha1.ReasonDeploymentMissing))
	}, 30*time.Second, 50*time.Millisecond).Should(Succeed())
	g.Expect(chartManager.memoryReturns.Load()).To(BeZero(), "memory returned before the mesh was Ready")

	// istiod comes up, as its chart would install it and a kubelet would run it.
	replicas := int32(1)
	istiod := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ready-system", Name: "istiod",
		Labels: map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue}},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "istiod"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "istiod"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: "istio/pilot"}}}}}}
	g.Expect(c.Create(ctx, istiod)).To(Succeed())
	istiod.Status = appsv1.DeploymentStatus{ObservedGeneration: istiod.Generation, Replicas: 1, UpdatedReplicas: 1,
		ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
			Reason: "MinimumReplicasAvailable", LastTransitionTime: metav1.Now(), LastUpdateTime: metav1.Now()}}}
	g.Expect(c.Status().Update(ctx, istiod)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(ready(g).Status).To(Equal(metav1.ConditionTrue), "Ready: %+v", ready(g))
	}, 30*time.Second, 50*time.Millisecond).Should(Succeed())
	g.Eventually(chartManager.memoryReturns.Load, 5*time.Second, 50*time.Millisecond).ShouldNot(BeZero(),
		"the chart manager was not asked to return its memory once the mesh was Ready")
}

// startMesh starts a manager with the policy and ServiceMesh controllers as the manager sets them up
// (one wait for the policy kinds, on discovery) and chartManager as the ServiceMesh's, creates
// namespace and a ServiceMesh with its control plane there, and returns a reader of the ServiceMesh's
// conditions.
func startMesh(ctx context.Context, g *WithT, env *testenv.Env, chartManager servicemesh.ChartManager, namespace string) func(g Gomega, conditionType string) *metav1.Condition {
	c := env.Client
	runPolicyAndMesh(ctx, g, env, env.Config, chartManager)

	createNamespaces(ctx, g, c, namespace)
	mesh := createMesh(ctx, g, c, `
  namespace: `+namespace+`
  cni: {enabled: false}
`)
	return func(g Gomega, conditionType string) *metav1.Condition {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
		condition := meta.FindStatusCondition(mesh.Status.Conditions, conditionType)
		g.Expect(condition).NotTo(BeNil())
		return condition
	}
}
