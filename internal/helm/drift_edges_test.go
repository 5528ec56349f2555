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

package helm

import (
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// TestOwnedByNamesTheOwnerOnly: an object is the owner's when one of its owner references carries the
// owner's UID; none, or another's, is not (an uninstall or upgrade deletes only the owner's objects).
func TestOwnedByNamesTheOwnerOnly(t *testing.T) {
	obj := func(uids ...string) *metav1.ObjectMeta {
		meta := &metav1.ObjectMeta{}
		for _, uid := range uids {
			meta.OwnerReferences = append(meta.OwnerReferences, metav1.OwnerReference{Name: "mesh", UID: types.UID(uid)})
		}
		return meta
	}
	for name, tc := range map[string]struct {
		obj  *metav1.ObjectMeta
		want bool
	}{
		"no owner":             {obj(), false},
		"another owner":        {obj("other"), false},
		"the owner":            {obj("uid"), true},
		"the owner, not first": {obj("other", "uid"), true},
		"the owner, not alone": {obj("uid", "other"), true},
	} {
		if got := ownedBy(tc.obj, "uid"); got != tc.want {
			t.Errorf("%s: ownedBy = %t, want %t", name, got, tc.want)
		}
	}
}

// TestComparableFieldsKeepWhatSomeoneElseChanges: the drift check ignores what changes without anyone
// editing an object (status, bookkeeping, the webhook fields istiod rewrites) and nothing else: a label
// or a webhook's rules changed by hand is drift.
func TestComparableFieldsKeepWhatSomeoneElseChanges(t *testing.T) {
	object := func(edit func(map[string]any)) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "admissionregistration.k8s.io/v1",
			"kind":       "ValidatingWebhookConfiguration",
			"metadata": map[string]any{"name": "istiod", "resourceVersion": "1", "uid": "u1",
				"labels": map[string]any{ManagedByLabel: ManagedByValue}},
			"webhooks": []any{map[string]any{"name": "validation.istio.io", "failurePolicy": "Ignore",
				"clientConfig": map[string]any{"caBundle": "", "service": map[string]any{"name": "istiod"}},
				"rules":        []any{map[string]any{"operations": []any{"CREATE"}}}}},
		}}
		if edit != nil {
			edit(u.Object)
		}
		return u
	}
	webhook := func(obj map[string]any) map[string]any { return obj["webhooks"].([]any)[0].(map[string]any) }
	base := comparableFields(object(nil))
	for name, tc := range map[string]struct {
		edit  func(map[string]any)
		drift bool
	}{
		"a new resource version":   {func(o map[string]any) { o["metadata"].(map[string]any)["resourceVersion"] = "2" }, false},
		"a status":                 {func(o map[string]any) { o["status"] = map[string]any{"ready": true} }, false},
		"istiod's CA bundle":       {func(o map[string]any) { webhook(o)["clientConfig"].(map[string]any)["caBundle"] = "Q0E=" }, false},
		"istiod's failure policy":  {func(o map[string]any) { webhook(o)["failurePolicy"] = "Fail" }, false},
		"a label removed by hand":  {func(o map[string]any) { o["metadata"].(map[string]any)["labels"] = map[string]any{} }, true},
		"the rules edited by hand": {func(o map[string]any) { webhook(o)["rules"] = []any{} }, true},
		"the service edited by hand": {func(o map[string]any) {
			webhook(o)["clientConfig"].(map[string]any)["service"] = map[string]any{"name": "x"}
		}, true},
	} {
		if drift := !equality.Semantic.DeepEqual(base, comparableFields(object(tc.edit))); drift != tc.drift {
			t.Errorf("%s: drift = %t, want %t", name, drift, tc.drift)
		}
	}
}

// TestKeepableStubsOnlyCRDs: between drift checks the chart manager keeps a stub of a CRD (its
// identity, not its schema) and every other object whole, as rendered.
func TestKeepableStubsOnlyCRDs(t *testing.T) {
	objects, err := decodeManifest([]byte(`---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gateways.networking.istio.io}
spec: {group: networking.istio.io}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: ns}
data: {mesh: ""}
`))
	if err != nil {
		t.Fatal(err)
	}
	kept := keepable(objects)
	if !isStub(kept[0]) || kept[0].GetName() != "gateways.networking.istio.io" || kept[0].Object["spec"] != nil {
		t.Errorf("the CRD is kept as %v, want a stub without its spec", kept[0].Object)
	}
	if isStub(kept[1]) || kept[1] != objects[1] {
		t.Errorf("the ConfigMap is kept as %v, want it as rendered", kept[1].Object)
	}
}

// TestStampLeavesCRDsUnowned: a CRD gets Helm's keep policy and no owner reference, which would make
// the garbage collector delete it, and every custom resource of its kind, with the ServiceMesh.
func TestStampLeavesCRDsUnowned(t *testing.T) {
	out, err := Stamp([]byte(`---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gateways.networking.istio.io}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio}
`), Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "mesh", UID: "uid"})
	if err != nil {
		t.Fatal(err)
	}
	objects, err := decodeManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	crd, cm := objects[0], objects[1]
	if refs := crd.GetOwnerReferences(); len(refs) != 0 || crd.GetAnnotations()[keepPolicyAnnotation] != "keep" {
		t.Errorf("the CRD has owner references %v and annotations %v, want none and the keep policy", refs, crd.GetAnnotations())
	}
	if !ownedBy(cm, "uid") || cm.GetAnnotations()[keepPolicyAnnotation] != "" {
		t.Errorf("the ConfigMap has owner references %v and annotations %v, want the owner's and no keep policy",
			cm.GetOwnerReferences(), cm.GetAnnotations())
	}
}

// TestPriorityPassesOverAnotherKindOfTheSameName: the priority class goes to the DaemonSet of the name,
// not to a Deployment of that name rendered before it.
func TestPriorityPassesOverAnotherKindOfTheSameName(t *testing.T) {
	manifest := `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-cni-node}
spec: {template: {spec: {containers: [{name: app, image: app}]}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: istio-cni-node}
spec: {template: {spec: {containers: [{name: install-cni, image: install-cni}]}}}
`
	out, err := PostRender([]byte(manifest), Release{PodPriority: &PodPriority{DaemonSet: "istio-cni-node", ClassName: "mesh-critical"}})
	if err != nil {
		t.Fatal(err)
	}
	classes := priorityClasses(t, out)
	if classes["DaemonSet istio-cni-node"] != "mesh-critical" || classes["Deployment istio-cni-node"] != "" {
		t.Errorf("priority classes %v, want mesh-critical for the DaemonSet alone", classes)
	}
}

// TestRenderedObjectsOfAnotherDigestAreNotReused: the objects kept for a release are those of the
// digest they were rendered from; a drift check of another digest (the release upgraded meanwhile, by
// another manager) renders again rather than restoring the objects of the revision replaced.
func TestRenderedObjectsOfAnotherDigestAreNotReused(t *testing.T) {
	// No cluster: a render for digest-b fails reading the cluster's version, before it would use a client.
	m := NewChartManager(&rest.Config{Host: "https://127.0.0.1:1"}, nil, nil)
	old := &unstructured.Unstructured{}
	old.SetAPIVersion("v1")
	old.SetKind("ConfigMap")
	old.SetName("of-the-old-revision")
	m.manifests["ns/istiod"] = parsedManifest{key: "digest-a", objects: []*unstructured.Unstructured{old}}
	objects, err := m.renderedObjects(t.Context(), Release{Name: "istiod", Namespace: "ns"}, "digest-b", Head{Version: 2})
	if err == nil && len(objects) == 1 && objects[0] == old {
		t.Error("the objects kept for digest-a were returned for digest-b")
	}
	if kept, err := m.renderedObjects(t.Context(), Release{Name: "istiod", Namespace: "ns"}, "digest-a", Head{Version: 2}); err != nil || len(kept) != 1 || kept[0] != old {
		t.Errorf("the objects kept for digest-a were not returned for it: %v, %v", kept, err)
	}
}

// TestRenderDeployedRendersTheRevisionsAction: a drift check renders a release as its deployed revision
// was rendered, the first as an install and every later one as an upgrade, so a template that renders
// differently for the two (.Release.IsInstall, .Release.IsUpgrade) is compared with what was applied.
func TestRenderDeployedRendersTheRevisionsAction(t *testing.T) {
	chart := &chartv2.Chart{
		Metadata: &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: "action", Version: "0.1.0"},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: action, namespace: {{ .Release.Namespace }}}
data: {install: {{ .Release.IsInstall | quote }}, upgrade: {{ .Release.IsUpgrade | quote }}}
`)}},
	}
	// The objects name their namespace and the capabilities are known: the render asks nothing of a cluster.
	m := NewChartManager(&rest.Config{}, nil, nil)
	m.capabilities = common.DefaultCapabilities
	// A revision after the first that recovered a failed first install was rendered as an install, as
	// its record's label says: rendered as an upgrade, Istio's validator would fail closed in the drift
	// check's render and be "repaired" so before istiod serves.
	for revision, want := range map[Head]map[string]any{
		{Version: 1}:                  {"install": "true", "upgrade": "false"},
		{Version: 2}:                  {"install": "false", "upgrade": "true"},
		{Version: 3}:                  {"install": "false", "upgrade": "true"},
		{Version: 2, AsInstall: true}: {"install": "true", "upgrade": "false"},
	} {
		objects, err := m.renderDeployed(t.Context(), Release{Name: "r", Namespace: "ns", Chart: chart}, revision)
		if err != nil {
			t.Fatalf("rendering revision %+v: %v", revision, err)
		}
		if len(objects) != 1 {
			t.Fatalf("revision %+v rendered %d objects, want the ConfigMap", revision, len(objects))
		}
		if data := objects[0].Object["data"]; !equality.Semantic.DeepEqual(data, want) {
			t.Errorf("revision %+v rendered data %v, want %v", revision, data, want)
		}
	}
}
