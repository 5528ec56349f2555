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

package restart

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A restart the API server did not take for a moment (a 503) is retried without a Warning, and only a
// second failure in a row of the same workload is named in RestartFailed Warnings; a refusal (here
// Forbidden, as an admission policy answers) is named at once. A restart that goes through starts the
// count over. The status says why nothing rolls out either way.
func TestAMomentaryRestartFailureGetsNoWarningUntilItFailsAgain(t *testing.T) {
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	unavailable := apierrors.NewServiceUnavailable("etcd leader changed")
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "b",
		errSentence("admission policy freeze denied the request"))
	r, recorder := answering(map[string][]error{"shop/a": {unavailable, nil, unavailable, unavailable}, "shop/b": {forbidden}})

	attempt := func(step string, names []string, wantWarned []string, wantHoldsBack string) {
		t.Helper()
		p := passOf(now, names...)
		_, _ = r.restart(context.Background(), restartsAtOnce(5), p)
		warned := restartFailed(recorder)
		if len(warned) != 2*len(wantWarned) {
			t.Errorf("%s: RestartFailed Events %q, want two for each of %v", step, warned, wantWarned)
		}
		for _, name := range wantWarned {
			if !strings.Contains(strings.Join(warned, "\n"), "Deployment shop/"+name) {
				t.Errorf("%s: no RestartFailed Event names shop/%s: %q", step, name, warned)
			}
		}
		if !strings.Contains(p.holdsBack, wantHoldsBack) {
			t.Errorf("%s: holdsBack %q, want it to say %q", step, p.holdsBack, wantHoldsBack)
		}
		now = now.Add(time.Minute)
	}
	attempt("a 503 and a refusal", []string{"a", "b"}, []string{"b"}, "refused the restarts")
	attempt("the 503's retry goes through", []string{"a"}, nil, "")
	attempt("another 503, after a restart that went through", []string{"a"}, nil, "did not take the restarts for a moment")
	attempt("a second 503 in a row", []string{"a"}, []string{"a"}, "refused the restarts")
}

// A momentary failure of a workload's restart, after which the workload needed no restart for a while
// (its owner restarted it, say) and then needs one again (the next upgrade), is a first failure in a
// row: the failure before it ended a run of attempts that the workload leaving the candidates closed.
func TestAMomentaryRestartFailureAfterTheWorkloadNeededNoneIsAFirstOne(t *testing.T) {
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	unavailable := apierrors.NewServiceUnavailable("etcd leader changed")
	r, recorder := answering(map[string][]error{"shop/a": {unavailable, unavailable}})
	for _, step := range []struct {
		name  string
		names []string
	}{
		{"a 503", []string{"a"}},
		{"a needs no restart", []string{"b"}},
		{"a needs one again, and gets a 503", []string{"a"}},
	} {
		_, _ = r.restart(context.Background(), restartsAtOnce(5), passOf(now, step.names...))
		for _, e := range restartFailed(recorder) {
			t.Errorf("%s: %s", step.name, e)
		}
		now = now.Add(time.Hour)
	}
}

// A workload whose restart the API server refuses (an admission policy that rejects its template as
// it is) is tried again only after a backoff that doubles with each refusal in a row, not on each of
// the passes that every change of a pod or workload of the cluster starts; meanwhile the pass asks to
// be run again when the backoff ends, and the others are restarted as usual.
func TestARefusedRestartIsTriedAgainOnlyAfterItsBackoff(t *testing.T) {
	start := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "a",
		errSentence("admission policy limits denied the request"))
	r, recorder := answering(map[string][]error{"shop/a": {forbidden, forbidden}})
	patched := map[string]int{}
	inner := r.Client
	r.Client = interceptor.NewClient(inner.(client.WithWatch), interceptor.Funcs{
		Patch: func(ctx context.Context, _ client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			patched[obj.GetName()]++
			return inner.Patch(ctx, obj, patch, opts...)
		},
	})
	for _, step := range []struct {
		after       time.Duration
		names       []string
		wantPatched map[string]int
		wantErr     bool
		// wantRequeue is the longest the pass may ask to wait, zero for no bound.
		wantRequeue time.Duration
	}{
		{0, []string{"a", "b"}, map[string]int{"a": 1, "b": 1}, true, 0},
		{500 * time.Millisecond, []string{"a"}, map[string]int{"a": 1, "b": 1}, false, 500 * time.Millisecond},
		{900 * time.Millisecond, []string{"a"}, map[string]int{"a": 1, "b": 1}, false, 100 * time.Millisecond},
		{time.Second, []string{"a"}, map[string]int{"a": 2, "b": 1}, true, 0},
		{2500 * time.Millisecond, []string{"a"}, map[string]int{"a": 2, "b": 1}, false, 500 * time.Millisecond},
		{3 * time.Second, []string{"a"}, map[string]int{"a": 3, "b": 1}, false, 0},
	} {
		p := passOf(start.Add(step.after), step.names...)
		result, err := r.restart(context.Background(), restartsAtOnce(5), p)
		if !maps.Equal(patched, step.wantPatched) {
			t.Errorf("after %s: restarts sent %v, want %v", step.after, patched, step.wantPatched)
		}
		if (err != nil) != step.wantErr {
			t.Errorf("after %s: the pass returned %v, want an error: %t", step.after, err, step.wantErr)
		}
		if step.wantRequeue > 0 && (result.RequeueAfter <= 0 || result.RequeueAfter > step.wantRequeue) {
			t.Errorf("after %s: the pass asks to run again after %s, want at most %s", step.after, result.RequeueAfter, step.wantRequeue)
		}
		if step.wantRequeue > 0 && !strings.Contains(p.holdsBack, "refused the restarts") {
			t.Errorf("after %s: holdsBack %q, want it to say the restart was refused", step.after, p.holdsBack)
		}
	}
	if warned := restartFailed(recorder); len(warned) != 4 {
		t.Errorf("RestartFailed Events %q, want two for each of the two refusals", warned)
	}
}

// answering is a Reconciler whose restart of a workload ("<namespace>/<name>") gets, in turn, the
// answers given for it, and goes through once they run out; and the recorder of its Events.
func answering(answers map[string][]error) (*Reconciler, *events.FakeRecorder) {
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(_ context.Context, _ client.WithWatch, obj client.Object, _ client.Patch, _ ...client.PatchOption) error {
			key := obj.GetNamespace() + "/" + obj.GetName()
			if len(answers[key]) == 0 {
				return nil
			}
			err := answers[key][0]
			answers[key] = answers[key][1:]
			return err
		},
	}).Build()
	recorder := events.NewFakeRecorder(100)
	return &Reconciler{Client: c, Recorder: recorder}, recorder
}

// restartsAtOnce is a ServiceMesh whose restarts run up to n at once, in all and in a namespace.
func restartsAtOnce(n int32) *meshv1alpha1.ServiceMesh {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Spec.DataPlane.Restarts.MaxConcurrent = ptr.To(n)
	mesh.Spec.DataPlane.Restarts.MaxConcurrentPerNamespace = ptr.To(n)
	return mesh
}

// passOf is a pass at now whose candidates are the named workloads of namespace shop, ready to restart.
func passOf(now time.Time, names ...string) *pass {
	p := &pass{now: now}
	for _, name := range names {
		p.candidates = append(p.candidates, readyToRestart("shop", name))
	}
	return p
}

// restartFailed drains recorder and returns its RestartFailed Events.
func restartFailed(recorder *events.FakeRecorder) []string {
	var failed []string
	for len(recorder.Events) > 0 {
		if e := <-recorder.Events; strings.Contains(e, meshv1alpha1.ReasonRestartFailed) {
			failed = append(failed, e)
		}
	}
	return failed
}

// errSentence is an error whose message is s.
type errSentence string

func (e errSentence) Error() string { return string(e) }

// The failed restarts of a workload are its own: a workload deleted and created again under its name
// between two passes (kubectl replace --force), which the cache never showed gone, is restarted at once,
// not after the backoff of the one before, and a failure of its restart only of the API server's making
// is its first in a row, retried without a Warning.
func TestAWorkloadCreatedAgainDoesNotInheritTheBackoffOfTheOneBefore(t *testing.T) {
	start := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "a",
		errSentence("admission policy limits denied the request"))
	unavailable := apierrors.NewServiceUnavailable("etcd leader changed")
	r, recorder := answering(map[string][]error{"shop/a": {forbidden, forbidden, forbidden, unavailable}})
	patched := 0
	inner := r.Client
	r.Client = interceptor.NewClient(inner.(client.WithWatch), interceptor.Funcs{
		Patch: func(ctx context.Context, _ client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			patched++
			return inner.Patch(ctx, obj, patch, opts...)
		},
	})
	// Refused three times in a row: the next attempt waits 4 seconds.
	for _, after := range []time.Duration{0, time.Second, 3 * time.Second} {
		_, _ = r.restart(context.Background(), restartsAtOnce(5), passOf(start.Add(after), "a"))
	}
	if warned := restartFailed(recorder); patched != 3 || len(warned) != 6 {
		t.Fatalf("%d restarts sent and RestartFailed Events %q, want three, each named", patched, warned)
	}

	p := passOf(start.Add(4*time.Second), "a")
	p.candidates[0].obj.SetUID("uid-a-created-again")
	_, err := r.restart(context.Background(), restartsAtOnce(5), p)
	if patched != 4 || err == nil {
		t.Errorf("the workload created again under the name: %d restarts sent (%v), want it tried at once", patched, err)
	}
	if warned := restartFailed(recorder); len(warned) != 0 {
		t.Errorf("the first failure of the workload created again, only of the API server's making, is named: %q", warned)
	}
}
