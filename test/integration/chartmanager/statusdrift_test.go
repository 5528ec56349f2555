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

package chartmanager

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// istiodDeployment is the path of istiod's Deployment in namespace.
func istiodDeployment(namespace string) string {
	return "/apis/apps/v1/namespaces/" + namespace + "/deployments/istiod"
}

// cniDaemonSet is the path of the CNI agent's DaemonSet in namespace.
func cniDaemonSet(namespace string) string {
	return "/apis/apps/v1/namespaces/" + namespace + "/daemonsets/istio-cni-node"
}

// installedRelease is a release of a built-in chart that a chart manager with a cache installed into
// the test's namespace, and the counter of that manager's requests.
type installedRelease struct {
	g       *WithT
	ctx     context.Context
	env     *cluster
	m       *helm.ChartManager
	cache   client.Client
	counter *testenv.RequestCounter
	release helm.Release
}

// install installs the built-in chart chartName as release name, with the values it renders for the
// test's control-plane namespace.
func install(ctx context.Context, t *testing.T, g *WithT, name, chartName string, values func(namespace string) map[string]any) *installedRelease {
	t.Helper()
	_, _, env := setUp(t)
	r := &installedRelease{g: g, ctx: ctx, env: env, counter: &testenv.RequestCounter{}}
	r.m, r.cache, _ = cachedManager(ctx, t, env, r.counter)
	chart, err := charts.Builtin(chartName)
	g.Expect(err).NotTo(HaveOccurred())
	r.release = helm.Release{Name: name, Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: values(env.Namespace), Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}}
	result, err := r.m.Ensure(ctx, r.release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	return r
}

// waitCached waits until the manager's cache holds live (in the release namespace) at its resource
// version.
func (r *installedRelease) waitCached(live client.Object, into client.Object) {
	waitCached(r.ctx, r.g, r.cache, r.env.Namespace, live.GetName(), into, func(o client.Object) bool {
		return o.GetResourceVersion() == live.GetResourceVersion()
	})
}

// ensure checks the release, which must be in sync, and returns how many requests went to path and
// what was repaired.
func (r *installedRelease) ensure(path string) (int, []string) {
	before := r.counter.Of(path)
	result, err := r.m.Ensure(r.ctx, r.release)
	r.g.Expect(err).NotTo(HaveOccurred())
	r.g.Expect(result.State).To(Equal(helm.StateInSync))
	return r.counter.Of(path) - before, result.Repaired
}

// TestAStatusChangeIsNoDrift: the drift check of istiod's release reads nothing from the API server
// when istiod's Deployment changed in its status alone (as it does each time one of its pods comes or
// goes); a change of its metadata at the same generation, or of its spec, is read and repaired.
func TestAStatusChangeIsNoDrift(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := install(ctx, t, g, "istiod", charts.Istiod, func(namespace string) map[string]any {
		values, err := render.IstiodValues(&meshv1alpha1.ServiceMeshSpec{Namespace: namespace}, charts.BuiltinVersion)
		g.Expect(err).NotTo(HaveOccurred())
		return values
	})

	live := &appsv1.Deployment{}
	g.Expect(r.env.Client.Get(ctx, client.ObjectKey{Namespace: r.env.Namespace, Name: "istiod"}, live)).To(Succeed())

	// Its pods come up: the status changes, the generation does not.
	for replicas := int32(1); replicas <= 2; replicas++ {
		live.Status = appsv1.DeploymentStatus{ObservedGeneration: live.Generation, Replicas: replicas,
			UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas}
		g.Expect(r.env.Client.Status().Update(ctx, live)).To(Succeed())
		r.waitCached(live, &appsv1.Deployment{})
		requests, repaired := r.ensure(istiodDeployment(r.env.Namespace))
		g.Expect(requests).To(BeZero(), "a status change sent the drift check to the API server")
		g.Expect(repaired).To(BeEmpty())
	}

	// A label meshkeeper set is removed: the generation stays, the metadata changed.
	g.Expect(r.env.Client.Get(ctx, client.ObjectKey{Namespace: r.env.Namespace, Name: "istiod"}, live)).To(Succeed())
	generation := live.Generation
	g.Expect(live.Labels).To(HaveKey("app"))
	delete(live.Labels, "app")
	g.Expect(r.env.Client.Update(ctx, live)).To(Succeed())
	g.Expect(live.Generation).To(Equal(generation))
	r.waitCached(live, &appsv1.Deployment{})
	requests, repaired := r.ensure(istiodDeployment(r.env.Namespace))
	g.Expect(requests).NotTo(BeZero())
	g.Expect(repaired).To(ConsistOf("Deployment " + r.env.Namespace + "/istiod"))

	// Someone scales it: the spec changed.
	g.Expect(r.env.Client.Get(ctx, client.ObjectKey{Namespace: r.env.Namespace, Name: "istiod"}, live)).To(Succeed())
	g.Expect(live.Labels).To(HaveKey("app"), "the label was restored")
	live.Spec.Replicas = ptr.To(*live.Spec.Replicas + 3)
	g.Expect(r.env.Client.Update(ctx, live)).To(Succeed())
	g.Expect(live.Generation).To(BeNumerically(">", generation))
	r.waitCached(live, &appsv1.Deployment{})
	requests, repaired = r.ensure(istiodDeployment(r.env.Namespace))
	g.Expect(requests).NotTo(BeZero())
	g.Expect(repaired).To(ConsistOf("Deployment " + r.env.Namespace + "/istiod"))
}

// TestAnAppliedDaemonSetsStatusChangeIsNoDrift: the same for the CNI agent's DaemonSet, from the
// first change of its status after meshkeeper applied it. The API server answers an apply with the
// DaemonSet's metadata without the deprecated.daemonset.template.generation annotation that the
// object, as read or watched in apps/v1, carries; that difference is no change of its metadata.
func TestAnAppliedDaemonSetsStatusChangeIsNoDrift(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := install(ctx, t, g, "istio-cni", charts.CNI, func(namespace string) map[string]any {
		return render.CNIValues(&meshv1alpha1.ServiceMeshSpec{Namespace: namespace}, charts.BuiltinVersion)
	})

	live := &appsv1.DaemonSet{}
	g.Expect(r.env.Client.Get(ctx, client.ObjectKey{Namespace: r.env.Namespace, Name: "istio-cni-node"}, live)).To(Succeed())
	g.Expect(live.Annotations).To(HaveKey("deprecated.daemonset.template.generation"),
		"the API server no longer sets the annotation this test is about")
	for ready := int32(1); ready <= 3; ready++ {
		live.Status = appsv1.DaemonSetStatus{ObservedGeneration: live.Generation, DesiredNumberScheduled: 3,
			CurrentNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberReady: ready, NumberAvailable: ready}
		g.Expect(r.env.Client.Status().Update(ctx, live)).To(Succeed())
		r.waitCached(live, &appsv1.DaemonSet{})
		requests, repaired := r.ensure(cniDaemonSet(r.env.Namespace))
		g.Expect(repaired).To(BeEmpty())
		g.Expect(requests).To(BeZero(), "status change %d of the DaemonSet sent the drift check to the API server", ready)
	}
}
