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
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// templateListPaths are the collections a look at the workloads' pod templates lists, cluster-wide.
func templateListPaths() []string {
	paths := make([]string, 0, len(podTemplateKinds))
	for _, k := range podTemplateKinds {
		paths = append(paths, "/apis/"+k.gvk.Group+"/"+k.gvk.Version+"/"+strings.ToLower(k.gvk.Kind)+"s")
	}
	return paths
}

// TestHeldRevisionsLookAtTemplatesOncePerRecheck: while a revision is held, the workloads of the whole
// cluster are listed again only once the last look is older than the recheck, or was not for all of
// the revisions asked about, not on every reconcile. The LIST requests are counted on their way to a
// real API server.
func TestHeldRevisionsLookAtTemplatesOncePerRecheck(t *testing.T) {
	c := onAPIServer(t)
	ns := testNamespace(t, c, "templates")
	cronJob := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 1 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"istio.io/rev": "1-20-0"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "registry.example/batch:1"}}}}}}}}
	if err := c.Create(t.Context(), cronJob); err != nil {
		t.Fatal(err)
	}
	lists := &listCounter{}
	r := &Reconciler{Client: c, APIReader: countingClient(t, lists)}
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "mesh"}}
	paths := templateListPaths()
	look := func(revisions []string, maxAge time.Duration) (held bool, listed int) {
		t.Helper()
		before := lists.of(paths...)
		users, err := r.recentTemplatesNaming(t.Context(), mesh, revisions, "", maxAge)
		if err != nil {
			t.Fatal(err)
		}
		return users["1-20-0"] != nil, lists.of(paths...) - before
	}
	if held, listed := look([]string{"1-20-0"}, time.Minute); !held || listed != len(podTemplateKinds) {
		t.Fatalf("first look: held %t after %d lists, want held after %d", held, listed, len(podTemplateKinds))
	}
	if err := c.Delete(t.Context(), cronJob); err != nil {
		t.Fatal(err)
	}
	if held, listed := look([]string{"1-20-0"}, time.Minute); !held || listed != 0 {
		t.Errorf("a look within the recheck: held %t after %d lists, want the last look's verdict and no list", held, listed)
	}
	if held, listed := look([]string{"1-19-0", "1-20-0"}, time.Minute); held || listed != len(podTemplateKinds) {
		t.Errorf("a look for more revisions: held %t after %d lists, want a new look that finds the CronJob gone", held, listed)
	}
	if held, listed := look([]string{"1-20-0"}, time.Minute); held || listed != 0 {
		t.Errorf("a look for some of the last look's revisions: held %t after %d lists, want the last look's verdict and no list", held, listed)
	}
	if held, listed := look([]string{"1-20-0"}, 0); held || listed != len(podTemplateKinds) {
		t.Errorf("a look once the recheck is over: held %t after %d lists, want a new look", held, listed)
	}
}
