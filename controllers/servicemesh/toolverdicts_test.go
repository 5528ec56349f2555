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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	fluxstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	lua "github.com/yuin/gopher-lua"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// verdicts is what the tools users watch a ServiceMesh through make of it: kstatus (sigs.k8s.io/cli-utils,
// and the fork github.com/fluxcd/cli-utils that Flux and Helm 4 are built with), the Argo CD health check
// meshkeeper ships, and `kubectl wait --for=condition=Ready` and `--for=condition=Stalled`.
type verdicts struct {
	kstatus      status.Status
	argo         string
	readyMet     bool
	stalledMet   bool
	argoContains string
}

// TestToolsReadWhatComputeStatusWrites runs the status computeStatus writes, with the
// status.observedGeneration Reconcile writes beside it, through kstatus, the Argo CD check and kubectl
// wait's test of a condition. A failure meshkeeper retries is InProgress for kstatus (Argo CD shows it
// Degraded on purpose, docs/argocd.md); a failure retrying cannot fix, and a conflict only a person can
// resolve, are Failed and Degraded; a ServiceMesh being deleted is Terminating and Progressing; a spec
// meshkeeper has not handled yet is InProgress and Progressing. kubectl wait for Ready passes on none of
// them, and kubectl wait for Stalled passes exactly on the failures kstatus reads as Failed.
func TestToolsReadWhatComputeStatusWrites(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "health", "mesh.meshkeeper.io", "ServiceMesh", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	available := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istiod"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)}, Status: appsv1.DeploymentStatus{UpdatedReplicas: 1, AvailableReplicas: 1, Replicas: 1}}
	healthy := func(generation int64) meshv1alpha1.ServiceMeshStatus {
		conditions := judged(generation)
		meta.SetStatusCondition(&conditions, metav1.Condition{Type: meshv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
			ObservedGeneration: generation, Reason: meshv1alpha1.ReasonSucceeded, Message: "The mesh matches the spec"})
		return meshv1alpha1.ServiceMeshStatus{ObservedGeneration: generation, Conditions: conditions}
	}
	tests := map[string]struct {
		// previous is the status before the reconcile; generation the ServiceMesh's.
		previous   meshv1alpha1.ServiceMeshStatus
		generation int64
		// change sets what the reconcile observed; nil means no reconcile ran (the status is previous).
		change func(*observation)
		// handled tells whether Reconcile marks the generation observed (its error is nil).
		handled  bool
		deleting bool
		want     verdicts
	}{
		"a healthy mesh": {
			previous: healthy(4), generation: 4,
			want: verdicts{kstatus: status.CurrentStatus, argo: "Healthy", readyMet: true},
		},
		"an install failure of a new spec, retried with backoff": {
			previous: healthy(3), generation: 4,
			change: func(o *observation) {
				o.controlPlaneErr = meshctx.Retry(meshv1alpha1.ReasonInstallFailed, errors.New("installing release istio-system/istiod: boom"))
				o.istiodRead, o.istiod, o.istiodName = true, available, "istiod"
			},
			want: verdicts{kstatus: status.InProgressStatus, argo: "Degraded", argoContains: "boom"},
		},
		"an install failure of a spec already handled, retried with backoff": {
			previous: healthy(4), generation: 4,
			change: func(o *observation) {
				o.controlPlaneErr = meshctx.Retry(meshv1alpha1.ReasonInstallFailed, errors.New("upgrading release istio-system/istiod: boom"))
				o.istiodRead, o.istiod, o.istiodName = true, available, "istiod"
			},
			want: verdicts{kstatus: status.InProgressStatus, argo: "Degraded", argoContains: "boom"},
		},
		"a chart repository that does not answer, retried with backoff": {
			previous: healthy(3), generation: 4,
			change: func(o *observation) {
				o.controlPlaneErr = meshctx.Retry(meshv1alpha1.ReasonRepositoryUnreachable, errors.New("dial tcp: connection refused"))
			},
			want: verdicts{kstatus: status.InProgressStatus, argo: "Degraded", argoContains: "connection refused"},
		},
		"a chart version that does not exist": {
			previous: healthy(3), generation: 4, handled: true,
			change: func(o *observation) {
				o.controlPlaneErr = meshctx.Terminal(meshv1alpha1.ReasonChartNotFound, errors.New("chart istiod 9.9.9 not found"))
				o.istiodRead, o.istiod, o.istiodName = true, available, "istiod"
			},
			want: verdicts{kstatus: status.FailedStatus, argo: "Degraded", stalledMet: true, argoContains: "9.9.9"},
		},
		"a namespaceSelector that cannot be used": {
			previous: healthy(3), generation: 4, handled: true,
			change: func(o *observation) {
				o.istiodRead, o.istiod, o.istiodName = true, available, "istiod"
				o.enrollmentErr = meshctx.Terminal(meshv1alpha1.ReasonInvalidSpec, errors.New("spec.injection.namespaceSelector is not a valid label selector"))
			},
			want: verdicts{kstatus: status.FailedStatus, argo: "Degraded", stalledMet: true, argoContains: "namespaceSelector"},
		},
		"a policy object of someone else's where meshkeeper would write its own": {
			previous: healthy(4), generation: 4, handled: true,
			change: func(o *observation) {
				o.istiodRead, o.istiod, o.istiodName = true, available, "istiod"
				o.policies = &policiesObservation{served: true, conflicts: []string{"PeerAuthentication shop/default"}}
			},
			want: verdicts{kstatus: status.FailedStatus, argo: "Degraded", stalledMet: true, argoContains: "shop/default"},
		},
		"an ingress-nginx controller whose pod template holds someone else's sidecar annotation": {
			previous: healthy(4), generation: 4, handled: true,
			change: func(o *observation) {
				o.istiodRead, o.istiod, o.istiodName = true, available, "istiod"
				o.ingresses = &ingressesObservation{enabled: true, controller: policy.PodTemplateDecision{
					Reason: meshv1alpha1.ReasonAnnotationConflict, Message: "the pod template keeps sidecar.istio.io/inject: false of its own"}}
			},
			want: verdicts{kstatus: status.FailedStatus, argo: "Degraded", stalledMet: true, argoContains: "sidecar.istio.io/inject"},
		},
		"a namespace that keeps its own injection label": {
			previous: healthy(4), generation: 4, handled: true,
			change: func(o *observation) {
				o.istiodRead, o.istiod, o.istiodName = true, available, "istiod"
				o.namespaces = &namespacesObservation{conflicts: []string{"payments"}}
			},
			want: verdicts{kstatus: status.FailedStatus, argo: "Degraded", stalledMet: true, argoContains: "payments"},
		},
		"a canary rolled back": {
			// The canary namespaces are back on the active revision until a person changes the spec: the
			// upgrade the spec asks for did not go through, whatever else is in place.
			previous: healthy(4), generation: 4, handled: true,
			change: func(o *observation) {
				o.istiodRead, o.istiod, o.istiodName = true, available, "istiod"
				o.spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
					Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{"shop"}}}
				o.canaryRollback = &meshv1alpha1.CanaryRollbackStatus{Revision: "1-31-1", Workload: "Deployment shop/checkout", ObservedGeneration: 4}
				o.proxies = &proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 3}}
			},
			want: verdicts{kstatus: status.FailedStatus, argo: "Degraded", stalledMet: true, argoContains: "Deployment shop/checkout"},
		},
		"pods that need a restart their owners make": {
			previous: healthy(4), generation: 4, handled: true,
			change: func(o *observation) {
				o.istiodRead, o.istiod, o.istiodName = true, available, "istiod"
				o.proxies = &proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 3, Outdated: 1}, needRestart: map[string]int{"shop": 1}}
			},
			want: verdicts{kstatus: status.CurrentStatus, argo: "Healthy", readyMet: true},
		},
		"istiod rolling out": {
			previous: healthy(3), generation: 4, handled: true,
			change: func(o *observation) {
				rolling := available.DeepCopy()
				rolling.Status.UpdatedReplicas = 0
				o.istiodRead, o.istiod, o.istiodName = true, rolling, "istiod"
			},
			want: verdicts{kstatus: status.InProgressStatus, argo: "Progressing"},
		},
		"a new spec meshkeeper has not handled yet": {
			previous: healthy(4), generation: 5,
			want: verdicts{kstatus: status.InProgressStatus, argo: "Progressing"},
		},
		"a ServiceMesh being deleted": {
			// The deletion bumps metadata.generation; meshkeeper writes no status while it uninstalls.
			previous: healthy(4), generation: 5, deleting: true,
			want: verdicts{kstatus: status.TerminatingStatus, argo: "Progressing", argoContains: "Uninstalling the mesh"},
		},
		"a ServiceMesh being deleted that was stalled": {
			previous: func() meshv1alpha1.ServiceMeshStatus {
				st := healthy(4)
				meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: meshv1alpha1.ConditionStalled, Status: metav1.ConditionTrue,
					ObservedGeneration: 4, Reason: meshv1alpha1.ReasonChartNotFound, Message: "chart istiod 9.9.9 not found"})
				meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: meshv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
					ObservedGeneration: 4, Reason: meshv1alpha1.ReasonChartNotFound, Message: "chart istiod 9.9.9 not found"})
				return st
			}(),
			generation: 5, deleting: true,
			want: verdicts{kstatus: status.TerminatingStatus, argo: "Progressing", stalledMet: false, argoContains: "Uninstalling the mesh"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := tc.previous.DeepCopy()
			if tc.change != nil {
				obs := testObservation()
				obs.generation = tc.generation
				tc.change(obs)
				st = computeStatus(st, obs)
				if tc.handled {
					st.ObservedGeneration = tc.generation
				}
			}
			mesh := &meshv1alpha1.ServiceMesh{
				TypeMeta:   metav1.TypeMeta{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh"},
				ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: tc.generation, Finalizers: []string{meshv1alpha1.Finalizer}},
				Spec:       meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"},
				Status:     *st,
			}
			if tc.deleting {
				mesh.DeletionTimestamp = ptr.To(metav1.Now())
			}
			content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(mesh)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: content}
			got := verdicts{
				readyMet:   kubectlWaitConditionMet(u, meshv1alpha1.ConditionReady),
				stalledMet: kubectlWaitConditionMet(u, meshv1alpha1.ConditionStalled),
			}
			result, err := status.Compute(u)
			if err != nil {
				t.Fatal(err)
			}
			got.kstatus = result.Status
			fluxResult, err := fluxstatus.Compute(u)
			if err != nil {
				t.Fatal(err)
			}
			if string(fluxResult.Status) != string(result.Status) {
				t.Errorf("kstatus of github.com/fluxcd/cli-utils: %s (%s), of sigs.k8s.io/cli-utils: %s", fluxResult.Status, fluxResult.Message, result.Status)
			}
			health, message := argoHealth(t, string(script), content)
			got.argo = health
			if tc.want.argoContains != "" && !strings.Contains(message, tc.want.argoContains) {
				t.Errorf("Argo CD message %q does not contain %q", message, tc.want.argoContains)
			}
			got.argoContains = tc.want.argoContains
			if got != tc.want {
				t.Errorf("got kstatus %s (%s), Argo CD %s (%s), kubectl wait Ready met %v, Stalled met %v;\nwant %+v\nconditions: %s",
					got.kstatus, result.Message, got.argo, message, got.readyMet, got.stalledMet, tc.want, conditionsOf(st))
			}
		})
	}
}

// conditionsOf lists the conditions for a failure message.
func conditionsOf(st *meshv1alpha1.ServiceMeshStatus) string {
	var parts []string
	for _, c := range st.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s/%s@%d", c.Type, c.Status, c.Reason, c.ObservedGeneration))
	}
	return fmt.Sprintf("observedGeneration %d: %s", st.ObservedGeneration, strings.Join(parts, ", "))
}

// kubectlWaitConditionMet is the test `kubectl wait --for=condition=<name>` makes of an object
// (k8s.io/kubectl v0.36 pkg/cmd/wait/condition.go, ConditionalWait.checkCondition): the first condition
// of that type, True, and not of a generation older than metadata.generation (the condition's
// observedGeneration, else status.observedGeneration).
func kubectlWaitConditionMet(obj *unstructured.Unstructured, name string) bool {
	conditions, found, err := unstructured.NestedSlice(obj.Object, "status", "conditions")
	if err != nil || !found {
		return false
	}
	for _, c := range conditions {
		condition, ok := c.(map[string]any)
		if !ok {
			continue
		}
		conditionType, found, err := unstructured.NestedString(condition, "type")
		if !found || err != nil || !strings.EqualFold(conditionType, name) {
			continue
		}
		value, found, err := unstructured.NestedString(condition, "status")
		if !found || err != nil {
			continue
		}
		if generation, found, _ := unstructured.NestedInt64(obj.Object, "metadata", "generation"); found {
			observed, found, _ := unstructured.NestedInt64(condition, "observedGeneration")
			if !found {
				observed, found, _ = unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
			}
			if found && observed < generation {
				return false
			}
		}
		return strings.EqualFold(value, "True")
	}
	return false
}

// argoHealth runs the Argo CD health check on obj, as the application controller gets it from the API
// server (integers as int64), and returns the status and message it gives.
func argoHealth(t *testing.T, script string, obj map[string]any) (string, string) {
	t.Helper()
	l := lua.NewState()
	defer l.Close()
	l.SetGlobal("obj", luaValue(l, obj))
	if err := l.DoString(script); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	result, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %s, not a table", l.Get(-1).Type())
	}
	return lua.LVAsString(result.RawGetString("status")), lua.LVAsString(result.RawGetString("message"))
}

// luaValue is the Lua value of a JSON value, as Argo CD's health checks see it.
func luaValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case map[string]any:
		table := l.NewTable()
		for key, item := range v {
			table.RawSetString(key, luaValue(l, item))
		}
		return table
	case []any:
		table := l.NewTable()
		for _, item := range v {
			table.Append(luaValue(l, item))
		}
		return table
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	panic(fmt.Sprintf("no Lua value for %T", value))
}
