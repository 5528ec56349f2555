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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// TestTheProxyTagOfTheValuesIsCurrent: spec.values may give the sidecar image another tag than the
// version (a mirror's "1.31.1-fips"). A pod running that image is current, however its tag differs from
// the version; judged by the version, every workload of the mesh was restarted, and restarted again
// after each deadline, for ever. A pod running the stock image is the one a restart brings to the tag.
func TestTheProxyTagOfTheValuesIsCurrent(t *testing.T) {
	f := newFixture(t, "tag", ptr.To[int32](10))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"values":{"global":{"tag":"1.31.1-fips"}}}}`)))).To(Succeed())

	// A Deployment whose one pod runs a sidecar of the given image.
	withProxy := func(name, image string) *appsv1.Deployment {
		t.Helper()
		d := createRolledOut(ctx, g, c, ns, name, "")
		g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-old"}})).To(Succeed())
		createPodWithProxy(ctx, g, c, d, name+"-proxy", image)
		return d
	}
	fips := withProxy("fips", "docker.io/istio/proxyv2:1.31.1-fips")
	stock := withProxy("stock", "docker.io/istio/proxyv2:1.31.1")
	waitCached(ctx, g, workloads, fips, stock)
	g.Eventually(func() string {
		cached := &meshv1alpha1.ServiceMesh{}
		_ = c.Get(ctx, client.ObjectKeyFromObject(mesh), cached)
		return string(cached.Spec.Values.Raw)
	}, 10*time.Second, 20*time.Millisecond).Should(ContainSubstring("1.31.1-fips"))
	// The servicemesh controller installed istiod for those values (TestNoRestartBeforeTheControlPlaneIsInstalledForTheSpec
	// shows that nothing is restarted before).
	installed(ctx, g, c)

	now := time.Now().UTC().Truncate(time.Second)
	r := &restart.Reconciler{Client: c, Workloads: workloads, Recorder: events.NewFakeRecorder(100), Report: restart.NewReport(),
		Now: func() time.Time { return now }}
	_, err := r.Reconcile(ctx, ctrl.Request{})
	g.Expect(err).NotTo(HaveOccurred())
	for _, d := range []*appsv1.Deployment{fips, stock} {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	}
	g.Expect(fips.Spec.Template.Annotations).NotTo(HaveKey(meshv1alpha1.RestartedAtAnnotation),
		"a pod that runs the image the values give was restarted")
	g.Expect(stock.Spec.Template.Annotations).To(HaveKeyWithValue(meshv1alpha1.RestartedAtAnnotation, now.Format(time.RFC3339)),
		"a pod that runs another image than the values give was not restarted")
}
