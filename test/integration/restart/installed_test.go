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
	"fmt"
	"maps"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// TestNoRestartBeforeTheControlPlaneIsInstalledForTheSpec: a spec change that makes the running pods
// outdated (another proxy image in spec.values, CNI turned off) wakes the restarts at once, while the
// servicemesh controller is still upgrading istiod, and the status (ControlPlaneReady True among it)
// still describes the spec before. istiod still injects the old sidecar then, so a restart would give the
// new pods that one. No workload is restarted until ControlPlaneReady is written for the spec's
// generation; the status pass learns why they wait, and the first pass after it restarts them.
func TestNoRestartBeforeTheControlPlaneIsInstalledForTheSpec(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		// before readies the mesh and the pod before the change: the spec and status it starts from (once
		// installed), and whether the pod was injected for the CNI agent.
		before func(ctx context.Context, g Gomega, c client.Client, controlPlane string)
		forCNI bool
		change string
	}{
		{name: "another proxy image", fixture: "uninstalled-image",
			change: `{"spec":{"values":{"global":{"proxy":{"image":"registry.example.com/istio/proxyv2:1.31.1-fips"}}}}}`},
		{name: "CNI turned off", fixture: "uninstalled-cni", forCNI: true, change: `{"spec":{"cni":{"enabled":false}}}`,
			before: func(ctx context.Context, g Gomega, c client.Client, controlPlane string) {
				mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
				g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cni":{"enabled":true}}}`)))).To(Succeed())
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: controlPlane}
				g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.fixture, nil)
			g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
			if tc.before != nil {
				tc.before(ctx, g, c, f.name+"-system")
				installed(ctx, g, c)
			}
			app := createRolledOut(ctx, g, c, ns, "app", "")
			g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-old"}})).To(Succeed())
			createInjectedPod(ctx, g, c, app, "app-current", "docker.io/istio/proxyv2:1.31.1", tc.forCNI)
			waitCached(ctx, g, f.workloads, app)

			r, recorder, pass := clockedReconciler(ctx, t, g, c, f.workloads)
			t0 := time.Now().UTC().Truncate(time.Second)
			pass(t0)
			g.Expect(restartedAt(ctx, g, c, app)).To(BeEmpty(), "a pod current for the spec as installed was restarted")
			g.Expect(r.Report.Value()).To(Equal(restart.Status{}))

			t.Log("the spec changes; the status still describes the spec before")
			mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
			g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(tc.change)))).To(Succeed())
			waiting := restart.Status{Pending: 1, Waiting: fmt.Sprintf("the control plane is not installed yet for generation %d "+
				"of the ServiceMesh (ControlPlaneReady is still generation %d's); meshkeeper restarts workloads once it is, so "+
				"that their new pods get the sidecar the spec asks for", mesh.Generation, mesh.Generation-1)}
			for _, at := range []time.Time{t0.Add(time.Second), t0.Add(10 * time.Minute)} {
				pass(at)
				g.Expect(restartedAt(ctx, g, c, app)).To(BeEmpty(),
					"restarted before the control plane was installed for the spec: istiod still injects the sidecar before")
				g.Expect(r.Report.Value()).To(Equal(waiting))
			}
			g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestarting)).To(BeEmpty())

			t.Log("the servicemesh controller installed the control plane for the spec, and says so in the status")
			installed(ctx, g, c)
			t1 := t0.Add(20 * time.Minute)
			pass(t1)
			g.Expect(restartedAt(ctx, g, c, app)).To(Equal(t1.Format(time.RFC3339)), "not restarted once the control plane is installed")
			g.Expect(r.Report.Value()).To(Equal(restart.Status{Restarting: 1}))
		})
	}
}

// TestNoRestartWhileTheInstallOfTheSpecFails: the control plane could not be installed for the spec
// (ControlPlaneReady False for this generation with a reason of the install, InvalidSpec here), so istiod
// injects what it did before, while the pods are judged against the spec. No workload is restarted, and
// the status pass learns the reason; once an install of that generation succeeds, they are.
func TestNoRestartWhileTheInstallOfTheSpecFails(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		strategy      meshv1alpha1.UpdateStrategyType
		revision      string
	}{
		// ControlPlaneReady is also what tells the InPlace strategy whether the revision is ready: the
		// reason it is False says why the restarts wait, not that istiod is not ready.
		{name: "InPlace", fixture: "install-failed", strategy: meshv1alpha1.UpdateInPlace, revision: "default"},
		{name: "RevisionBased", fixture: "install-failed-revisions", strategy: meshv1alpha1.UpdateRevisionBased, revision: "1-31-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.fixture, nil)
			g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
			mesh := &meshv1alpha1.ServiceMesh{}
			g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
			mesh.Spec.UpdateStrategy.Type = tc.strategy
			g.Expect(c.Update(ctx, mesh)).To(Succeed())
			if tc.strategy == meshv1alpha1.UpdateRevisionBased {
				mesh.Status.Revision, mesh.Status.ActiveRevision = tc.revision, tc.revision
				mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
					{Name: tc.revision, Version: "1.31.1", State: meshv1alpha1.RevisionActive, Ready: true, Proxies: 1}}
				g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
			}
			installed(ctx, g, c)
			app := createRolledOut(ctx, g, c, ns, "app", "")
			g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-old"}})).To(Succeed())
			createPodOfRevision(ctx, g, c, app, "app-current", tc.revision, "1.31.1")
			waitCached(ctx, g, f.workloads, app)

			t.Log("spec.values gives the sidecar another image, and the install of that spec fails")
			g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType,
				[]byte(`{"spec":{"values":{"global":{"proxy":{"image":"registry.example.com/istio/proxyv2:1.31.1-fips"}}}}}`)))).To(Succeed())
			setControlPlaneReady(ctx, g, c, metav1.ConditionFalse, meshv1alpha1.ReasonInvalidSpec,
				"spec.values sets a CPU request above its limit; the running control plane is left as it is")
			r, _, pass := clockedReconciler(ctx, t, g, c, f.workloads)
			t0 := time.Now().UTC().Truncate(time.Second)
			pass(t0)
			g.Expect(restartedAt(ctx, g, c, app)).To(BeEmpty(), "restarted while istiod injects what it did before the spec")
			g.Expect(r.Report.Value()).To(Equal(restart.Status{Pending: 1, Waiting: fmt.Sprintf("the control plane could not be "+
				"installed for generation %d of the ServiceMesh (ControlPlaneReady is False with reason InvalidSpec; its message "+
				"says why), so istiod may not inject the sidecar the spec asks for; meshkeeper restarts workloads once an install "+
				"of that generation succeeds: fix what the condition names, or set the spec back", mesh.Generation)}))

			t.Log("an install of that generation succeeds")
			setControlPlaneReady(ctx, g, c, metav1.ConditionTrue, meshv1alpha1.ReasonAvailable, "istiod: 1 of 1 replicas available")
			t1 := t0.Add(time.Minute)
			pass(t1)
			g.Expect(restartedAt(ctx, g, c, app)).To(Equal(t1.Format(time.RFC3339)), "not restarted once the install succeeded")
		})
	}
}

// TestARestartAfterTheInstallIsNotHeldAsFutile: a workload restarted for a new proxy image once the
// control plane is installed for it gets that image, rolls out, and is done: not held as a workload
// whose restart did not help (NotRestartable), as it was when it was restarted while istiod still
// injected the image before. The test plays the injector: a pod created before the status records
// the install gets the old image.
func TestARestartAfterTheInstallIsNotHeldAsFutile(t *testing.T) {
	f := newFixture(t, "futile-install", nil)
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	const stock, fips = "docker.io/istio/proxyv2:1.31.1", "registry.example.com/istio/proxyv2:1.31.1-fips"
	app := createRolledOut(ctx, g, c, ns, "app", "")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-old"}})).To(Succeed())
	createInjectedPod(ctx, g, c, app, "app-0", stock, false)

	injecting, pods := stock, 0
	// rollOut plays the Deployment controller and the injector after a restart: the pod of the template
	// as it is now replaces the last one, with the image istiod injects, and the Deployment is rolled out.
	rollOut := func() {
		t.Helper()
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
		g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("app-%d", pods)}})).To(Succeed())
		pods++
		createInjectedPod(ctx, g, c, app, fmt.Sprintf("app-%d", pods), injecting, false)
		markRolledOut(ctx, g, c, app)
	}
	waitCached(ctx, g, f.workloads, app)

	r, recorder, pass := clockedReconciler(ctx, t, g, c, f.workloads)
	t.Log("spec.values gives the sidecar another image; istiod is being upgraded")
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"values":{"global":{"proxy":{"image":"`+fips+`"}}}}}`)))).To(Succeed())
	t0 := time.Now().UTC().Truncate(time.Second)
	pass(t0)
	if restartedAt(ctx, g, c, app) != "" {
		rollOut() // by the injector before the upgrade
		waitCached(ctx, g, f.workloads, app)
	}

	t.Log("the control plane is installed for the spec: istiod injects the new image")
	installed(ctx, g, c)
	injecting = fips
	t1 := t0.Add(time.Minute)
	pass(t1)
	g.Expect(restartedAt(ctx, g, c, app)).To(Equal(t1.Format(time.RFC3339)), "not restarted once the control plane is installed")
	rollOut()
	waitCached(ctx, g, f.workloads, app)
	pass(t1.Add(time.Minute))

	sent := drain(recorder)
	g.Expect(withReason(sent, meshv1alpha1.ReasonNotRestartable)).To(BeEmpty(), "held as a restart that did not help")
	g.Expect(withReason(sent, meshv1alpha1.ReasonRestarted)).To(HaveLen(1))
	g.Expect(r.Report.Value()).To(Equal(restart.Status{}), "the workload runs the sidecar the spec asks for")
}

// createInjectedPod creates a pod of the Deployment's ReplicaSet, of its pod template as it is now, with
// a sidecar of the default revision running proxyImage, injected for the CNI agent (istio-validation)
// when forCNI.
func createInjectedPod(ctx context.Context, g Gomega, c client.Client, d *appsv1.Deployment, name, proxyImage string, forCNI bool) {
	rs := &appsv1.ReplicaSet{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: d.Name + "-1"}, rs)).To(Succeed())
	status := `{"containers":["istio-proxy"],"revision":"default"}`
	var initContainers []corev1.Container
	if forCNI {
		status = `{"initContainers":["istio-validation"],"containers":["istio-proxy"],"revision":"default"}`
		initContainers = []corev1.Container{{Name: "istio-validation", Image: proxyImage}}
	}
	annotations := map[string]string{"sidecar.istio.io/status": status}
	maps.Copy(annotations, d.Spec.Template.Annotations)
	g.Expect(c.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: name, Labels: maps.Clone(d.Spec.Template.Labels), Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{InitContainers: initContainers, Containers: []corev1.Container{
			{Name: "app", Image: "registry.example.com/app:1.0"}, {Name: "istio-proxy", Image: proxyImage}}},
	})).To(Succeed())
}
