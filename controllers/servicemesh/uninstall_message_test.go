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
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// The API server refuses a whole status whose condition message is over 32 KB, and Ready would stay as
// it was (True, for a mesh being deleted). One policy that freezes namespace labels refuses for each of
// a thousand enrolled namespaces: Ready lists what fits and counts the others, and every object that
// refused is either listed or counted.
func TestBlockedUninstallListsWhatFitsAndCountsTheOthers(t *testing.T) {
	const refusing = 1000
	denial := strings.Repeat("the platform team owns enrollment changes; ", 12)
	var stuck []error
	for i := range refusing {
		name := fmt.Sprintf("team-%04d", i)
		stuck = append(stuck, fmt.Errorf("namespace %s: %w", name,
			apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, name, errors.New(denial))))
	}
	got := holdUninstall(t, testMesh(), nil, func(ctx context.Context, tr *testReconciler, mesh *meshv1alpha1.ServiceMesh) error {
		return tr.reportUninstallBlocked(ctx, mesh, errors.Join(stuck...))
	})
	ready := meta.FindStatusCondition(got.Conditions, meshv1alpha1.ConditionReady)
	if ready == nil || ready.Reason != meshv1alpha1.ReasonUninstallBlocked {
		t.Fatalf("Ready %+v, want reason %s", ready, meshv1alpha1.ReasonUninstallBlocked)
	}
	if len(ready.Message) > 32768 {
		t.Fatalf("Ready's message is %d bytes, more than the API server takes", len(ready.Message))
	}
	for _, want := range []string{"1000 objects", "remove the admission webhook or policy", "namespace team-0000:"} {
		if !strings.Contains(ready.Message, want) {
			t.Errorf("Ready's message does not say %q", want)
		}
	}
	tail := regexp.MustCompile(`\nand (\d+) more$`).FindStringSubmatch(ready.Message)
	if tail == nil {
		t.Fatalf("Ready's message does not count the objects it leaves out: …%s", ready.Message[max(0, len(ready.Message)-200):])
	}
	left, _ := strconv.Atoi(tail[1])
	if listed := strings.Count(ready.Message, "\nnamespace team-"); listed+left != refusing || strings.Contains(ready.Message, "…") {
		t.Errorf("Ready lists %d whole object(s) and counts %d more, want %d in all, none cut", listed, left, refusing)
	}
}

// Whatever a condition's message says (here a failure as long as a chart's whole manifest), the status
// is written with the message cut to what the API server takes, rather than refused whole.
// TestABlockedUninstallTellsRefusalsFromFailures: what the uninstall could not take back is, most often,
// refused by the API server (an admission webhook or policy that guards namespace labels), and the
// message says so and what to do. A list or a write that failed on its way (the API server unavailable,
// a timeout) is no refusal: it is counted and named apart, after the refusals, and alone it gets no
// advice about admission policies.
func TestABlockedUninstallTellsRefusalsFromFailures(t *testing.T) {
	refusal := fmt.Errorf("namespace shop: %w", apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "shop",
		errors.New("denied by policy keep-injection")))
	unavailable := fmt.Errorf("listing Ingresses: %w", apierrors.NewServiceUnavailable("etcd is not answering"))
	timeout := fmt.Errorf("deleting PeerAuthentication bank/meshkeeper: %w", apierrors.NewTimeoutError("the request timed out", 1))
	for name, tc := range map[string]struct {
		stuck    []error
		want     []string
		wantNot  []string
		refusals bool
	}{
		"refusals alone": {
			stuck: []error{refusal},
			want:  []string{"but 1 object refused to give back meshkeeper's labels or annotations", "remove the admission webhook or policy", "Refused:\nnamespace shop:"},
		},
		"failures alone": {
			stuck:   []error{unavailable, timeout},
			want:    []string{"but 2 attempts to take back meshkeeper's labels, annotations or policies failed without a refusal", "Failed:\ndeleting PeerAuthentication", "\nlisting Ingresses:"},
			wantNot: []string{"refused to give back", "remove the admission webhook or policy"},
		},
		"both": {
			stuck: []error{unavailable, refusal},
			want: []string{"but 1 object refused to give back meshkeeper's labels or annotations, and 1 other attempt to take them back failed",
				"remove the admission webhook or policy", "Refused, then failed:\nnamespace shop:", "\nlisting Ingresses:"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := holdUninstall(t, testMesh(), nil, func(ctx context.Context, tr *testReconciler, mesh *meshv1alpha1.ServiceMesh) error {
				return tr.reportUninstallBlocked(ctx, mesh, errors.Join(tc.stuck...))
			})
			ready := meta.FindStatusCondition(got.Conditions, meshv1alpha1.ConditionReady)
			if ready == nil || ready.Reason != meshv1alpha1.ReasonUninstallBlocked {
				t.Fatalf("Ready %+v, want reason %s", ready, meshv1alpha1.ReasonUninstallBlocked)
			}
			for _, want := range tc.want {
				if !strings.Contains(ready.Message, want) {
					t.Errorf("Ready's message does not say %q:\n%s", want, ready.Message)
				}
			}
			for _, not := range tc.wantNot {
				if strings.Contains(ready.Message, not) {
					t.Errorf("Ready's message says %q, of failures that are no refusal:\n%s", not, ready.Message)
				}
			}
		})
	}
}

func TestStatusWithAMessageTooLongIsWrittenCut(t *testing.T) {
	failure := "uninstalling release istio-system/istiod: " + strings.Repeat("é", 40000)
	got := holdUninstall(t, testMesh(), nil, failedUninstall(failure, uninstallingControlPlane))
	ready := meta.FindStatusCondition(got.Conditions, meshv1alpha1.ConditionReady)
	if ready == nil || ready.Reason != meshv1alpha1.ReasonUninstallFailed {
		t.Fatalf("Ready %+v, want reason %s", ready, meshv1alpha1.ReasonUninstallFailed)
	}
	if len(ready.Message) > 32768 || !strings.HasSuffix(ready.Message, "é…") || !strings.Contains(ready.Message, "istio-system/istiod") {
		t.Errorf("Ready's message is %d bytes ending %q, want at most 32768 bytes, cut at a character and marked",
			len(ready.Message), ready.Message[max(0, len(ready.Message)-10):])
	}
}
