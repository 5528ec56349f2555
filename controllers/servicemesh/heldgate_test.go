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

package servicemesh

import (
	"context"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// liveIstiod creates the istiod Deployment of a revision of mesh, running image, as the API server
// takes it.
func liveIstiod(t *testing.T, c client.Client, mesh *meshv1alpha1.ServiceMesh, rev, image string) {
	t.Helper()
	labels := map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, "app": "istiod", policy.LabelIstioRevision: rev}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: mesh.Spec.Namespace, Name: revisionDeployment(rev), Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh",
			Name: mesh.Name, UID: mesh.UID}}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: image}}}}}}
	if err := c.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
}

// A revision that no pod or namespace uses any more, past its grace period or not, is still kept while
// a webhook configuration that is not meshkeeper's sends requests to its istiod, or a workload's pod
// template names it. The upgrade gate left such a revision out as unused: with 1.31 active and 1.29
// held, 1.32 went ahead, three minor versions from the 1.29 istiod that keeps running beside it. It
// counts now, and the refusal says what holds it and what lets it go, as the RevisionPruneBlocked Event
// does; since neither hold is watched, the refusal is looked at again every recheck.
func TestUpgradeGateCountsTheRevisionsThePruningHolds(t *testing.T) {
	c := onAPIServer(t)
	for _, tc := range []struct {
		name string
		hold func(t *testing.T, controlPlane, workloads string)
		// want are parts of the refusal; none means allowed.
		want []string
	}{
		{name: "nothing holds 1-29-0"},
		{name: "a CronJob's pod template names 1-29-0",
			hold: func(t *testing.T, _, workloads string) {
				cronJob := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: workloads, Name: "nightly"},
					Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
						Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{policy.LabelIstioRevision: "1-29-0"}},
							Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
								Containers: []corev1.Container{{Name: "main", Image: "registry.example/batch:1"}}}}}}}}
				createForTest(t, c, cronJob)
			},
			want: []string{"cannot be reached from the running revision 1-29-0 (Istio 1.29.0) in one step",
				"revision 1-29-0 (Istio 1.29.0) still runs because the pod template of 1 workload (CronJob {workloads}/nightly) " +
					"has istio.io/rev=1-29-0, whose next pods would start without a sidecar once it is gone; " +
					"meshkeeper keeps the revision until you move their istio.io/rev label to a current revision or remove it"}},
		{name: "a revision tag made with istioctl sends requests to 1-29-0's istiod",
			hold: func(t *testing.T, controlPlane, _ string) {
				tag := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-revision-tag-prod-" + controlPlane},
					Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "rev.namespace.sidecar-injector.istio.io",
						ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
							Namespace: controlPlane, Name: "istiod-1-29-0", Path: ptr.To("/inject")}},
						SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone), AdmissionReviewVersions: []string{"v1"}}}}
				createForTest(t, c, tag)
			},
			want: []string{"cannot be reached from the running revision 1-29-0 (Istio 1.29.0) in one step",
				"revision 1-29-0 (Istio 1.29.0) still runs because webhook configuration MutatingWebhookConfiguration " +
					"istio-revision-tag-prod-{controlPlane} (not meshkeeper's) sends requests to its istiod; " +
					"meshkeeper keeps the revision until you delete it or point it at another revision"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mesh := revisionBasedMesh()
			mesh.Spec.Namespace = testNamespace(t, c, "gate-system")
			mesh.Spec.Version = "1.32.0"
			mesh.Status.ActiveRevision, mesh.Status.Version = "1-31-0", "1.31.0"
			workloads := testNamespace(t, c, "gate-jobs")
			liveIstiod(t, c, mesh, "1-29-0", "docker.io/istio/pilot:1.29.0")
			liveIstiod(t, c, mesh, "1-31-0", "docker.io/istio/pilot:1.31.0")
			if tc.hold != nil {
				tc.hold(t, mesh.Spec.Namespace, workloads)
			}
			r := &Reconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Resolver: versionedResolver{versions: []string{"1.29.0", "1.31.0", "1.32.0"}},
				Charts: &fakeCharts{ensure: func(helm.Release) (helm.Result, error) {
					return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
				}}}
			_, err := r.reconcileRevisions(t.Context(), mesh, "1.32.0")
			refused := err != nil && strings.Contains(err.Error(), "cannot be reached")
			if refused != (len(tc.want) > 0) {
				t.Fatalf("reconcileRevisions to 1.32.0 = %v; want refused %t", err, len(tc.want) > 0)
			}
			for _, want := range tc.want {
				want = strings.NewReplacer("{workloads}", workloads, "{controlPlane}", mesh.Spec.Namespace).Replace(want)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("reconcileRevisions to 1.32.0 = %v; want it to say %q", err, want)
				}
			}
			if e := meshctx.Classify(err); refused && (e == nil || e.Reason != meshv1alpha1.ReasonUpgradeNotSupported || e.RetryAfter != holdRecheck(mesh)) {
				t.Errorf("the refusal is %+v; want UpgradeNotSupported looked at again in %s, since what holds the revision is not watched", e, holdRecheck(mesh))
			}
		})
	}
}

// createForTest creates obj, and deletes it when the test ends.
func createForTest(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The test's context is done by now.
		if err := c.Delete(context.Background(), obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			t.Errorf("deleting %s: %v", obj.GetName(), err)
		}
	})
}
