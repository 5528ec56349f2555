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
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestAPodOfAnotherRestartKeepsTheWorkloadRestartable: a restart whose rollout completed and whose own
// pods still need one is held as futile only when every pod that needs one is of that restart. A pod
// of the workload carrying another restarted-at value than its pod template, a later one included (the
// annotation written by hand, or left by a template changed back since), is not: the workload is
// restarted again once the cool-off passed.
func TestAPodOfAnotherRestartKeepsTheWorkloadRestartable(t *testing.T) {
	f := newFixture(t, "otherrestart", nil)
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	api := createRolledOut(ctx, g, c, ns, "api", "")
	waitCached(ctx, g, workloads, api)
	const pinned = "docker.io/istio/proxyv2:1.30.0"

	r, _, pass := clockedReconciler(ctx, t, g, c, workloads)
	base := time.Now().UTC().Truncate(time.Second)
	pass(base)
	g.Expect(restartedAt(ctx, g, c, api)).To(Equal(base.Format(time.RFC3339)), "a Deployment whose pod has no sidecar is restarted")

	// A pod that carries the restarted-at value of an hour later, created before the restart's own pod,
	// which stays the newest (and the one an equal creation time names, by its name).
	other := api.DeepCopy()
	other.Spec.Template.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: base.Add(time.Hour).Format(time.RFC3339)}
	createPodWithProxy(ctx, g, c, other, "api-a-other", pinned)
	// The restart rolls out, and its new pod runs the proxy image its pod template pins.
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	createPodWithProxy(ctx, g, c, api, "api-pinned-1", pinned)
	markRolledOut(ctx, g, c, api)
	waitCached(ctx, g, workloads, api)
	pass(base.Add(time.Second))
	g.Expect(r.Report.Value().Restarting).To(BeZero())

	again := base.Add(2 * time.Minute) // past the 60-second cool-off
	pass(again)
	g.Expect(restartedAt(ctx, g, c, api)).To(Equal(again.Format(time.RFC3339)),
		"held as futile though a pod of it is not of meshkeeper's restart")
	g.Expect(r.Report.Value().NotRestartable).To(BeZero())
}
