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

package ingress

import (
	"context"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// The Ingresses recorded as refused, for IngressesConfigured, follow the rule of the Warning: a
// refusal at once, a failure only of the API server's making from the second in a row on. The record
// holds the latest answer, and is dropped when a write goes through or the Ingress is gone; a record
// changes only when one of these does, so the status pass, which each change wakes
// (TestRefusalsWakeTheStatusPassOnChange), is woken only then.
func TestRefusalsFollowTheWarning(t *testing.T) {
	unavailable := apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	var answer error
	r, _, req := refusing(t, &answer)
	r.Refusals = meshctx.NewRefusals()
	key := req.String()
	for _, step := range []struct {
		name    string
		answer  error
		want    string // "" for no refusal recorded
		changes bool   // the refusal recorded changes, which wakes the status pass
	}{
		{name: "a first 503", answer: unavailable},
		{name: "a second 503 in a row", answer: unavailable, want: "the server is currently unable to handle the request", changes: true},
		{name: "a third 503 in a row", answer: unavailable, want: "the server is currently unable to handle the request"},
		{name: "an admission policy's denial", answer: denied, want: "upstream-vhost is not allowed", changes: true},
		{name: "the same denial again", answer: denied, want: "upstream-vhost is not allowed"},
		{name: "the write going through", answer: nil, changes: true},
		{name: "a first 503 after a write went through", answer: unavailable},
		{name: "a denial after it", answer: denied, want: "upstream-vhost is not allowed", changes: true},
	} {
		answer = step.answer
		before, _ := r.Refusals.Of(key)
		if _, err := r.Reconcile(context.Background(), req); (err != nil) != (step.answer != nil) {
			t.Fatalf("%s: reconcile returned %v, want the API server's answer %v", step.name, err, step.answer)
		}
		refusal, refused := r.Refusals.Of(key)
		switch {
		case step.want == "" && refused:
			t.Errorf("%s: want no refusal recorded, got %+v", step.name, refusal)
		case step.want != "" && (!refused || !strings.Contains(refusal.Answer, step.want) || !refusal.Releasing):
			t.Errorf("%s: want a refusal of the write that takes the annotations back saying %q, got %+v (recorded: %v)",
				step.name, step.want, refusal, refused)
		}
		if changed := refusal != before; changed != step.changes {
			t.Errorf("%s: the refusal recorded changed: %v, want %v", step.name, changed, step.changes)
		}
	}

	// The Ingress is deleted while its write is refused.
	ing := &networkingv1.Ingress{}
	if err := r.Get(context.Background(), req.NamespacedName, ing); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(context.Background(), ing); err != nil {
		t.Fatal(err)
	}
	if _, refused := r.Refusals.Of(key); !refused {
		t.Fatal("the Ingress is not recorded as refused before it is deleted")
	}
	if _, err := r.Reconcile(context.Background(), req); err != nil {
		t.Fatalf("the reconcile of a deleted Ingress returned %v", err)
	}
	if refusal, refused := r.Refusals.Of(key); refused {
		t.Errorf("a deleted Ingress is still recorded as refused: %+v", refusal)
	}
}

// A nil Refusals records nothing and holds nothing: a Reconciler built without one still reconciles.
func TestNilRefusals(t *testing.T) {
	answer := error(denied)
	r, _, req := refusing(t, &answer)
	if _, err := r.Reconcile(context.Background(), req); err == nil {
		t.Fatal("the reconcile of a refused write returned no error")
	}
	if _, refused := r.Refusals.Of(req.String()); refused {
		t.Error("a nil Refusals holds a refusal")
	}
}
