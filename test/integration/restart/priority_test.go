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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// TestIngressControllerIsRestartedFirst: the ingress-nginx controller carries the traffic into the mesh,
// so its restart comes before the applications': with room for one restart at a time, it is restarted
// first although an application's workload comes before it by namespace, and the application's only
// once the controller rolled out. The same holds with the controller in the control-plane namespace
// (spec.namespace), whose workloads come first of all.
func TestIngressControllerIsRestartedFirst(t *testing.T) {
	// Both namespaces come after the application's (<fixture>-shop).
	for _, tc := range []struct{ name, fixture, suffix string }{
		{"own namespace", "prio", "-web"},
		{"control-plane namespace", "prio-cp", "-system"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.fixture, nil)
			g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
			ingressNS := f.name + tc.suffix

			mesh := &meshv1alpha1.ServiceMesh{}
			g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
			mesh.Spec.DataPlane.Restarts.MaxConcurrent = ptr.To[int32](1)
			mesh.Spec.IngressNginx.Enabled = ptr.To(true)
			mesh.Spec.IngressNginx.Controller = meshv1alpha1.WorkloadReference{Namespace: ingressNS, Name: "ingress-nginx-controller",
				Kind: "Deployment"}
			g.Expect(c.Update(ctx, mesh)).To(Succeed())
			installed(ctx, g, c)
			g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ingressNS}})).To(Succeed())

			app := createRolledOut(ctx, g, c, ns, "app", "")
			// The controller as meshkeeper's settings leave it: its pod template asks for a sidecar, and its
			// pod runs the sidecar of an earlier Istio.
			controller := createRolledOut(ctx, g, c, ingressNS, "ingress-nginx-controller", "")
			controller.Spec.Template.Labels[policy.SidecarInject] = "true"
			g.Expect(c.Update(ctx, controller)).To(Succeed())
			markRolledOut(ctx, g, c, controller)
			createPodWithProxy(ctx, g, c, controller, "ingress-nginx-controller-outdated", "docker.io/istio/proxyv2:1.30.0")
			waitCached(ctx, g, workloads, app, controller)

			_, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
			t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			pass(t0)
			g.Expect(restartedAt(ctx, g, c, controller)).To(Equal(t0.Format(time.RFC3339)), "the ingress-nginx controller is not restarted first")
			g.Expect(restartedAt(ctx, g, c, app)).To(BeEmpty(), "the application is restarted before the ingress-nginx controller")
			g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestarting)).To(HaveLen(1))

			// The controller rolled out: the application's turn.
			markRolledOut(ctx, g, c, controller)
			waitCached(ctx, g, workloads, controller)
			t1 := t0.Add(5 * time.Minute)
			pass(t1)
			g.Expect(restartedAt(ctx, g, c, controller)).To(Equal(t0.Format(time.RFC3339)))
			g.Expect(restartedAt(ctx, g, c, app)).To(Equal(t1.Format(time.RFC3339)), "the application is not restarted after the controller")
		})
	}
}
