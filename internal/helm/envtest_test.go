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

package helm

import (
	"os"
	"slices"
	"strings"
	"testing"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/test/testenv/server"
)

// The package's tests that need an API server share one kube-apiserver and etcd (server.Shared), each
// test in a namespace of its own. (The test tiers' testenv cannot be used here: it imports the
// controllers, which import this package; its server package can.)
var apiServer = server.NewShared(clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme)

func TestMain(m *testing.M) { os.Exit(apiServer.Main(m)) }

// onAPIServer returns a chart manager of the package's API server, a client of it, and a namespace
// for the test alone. The manager reads from the API server, uncached, as its reader does in the
// operator.
func onAPIServer(t *testing.T) (*ChartManager, client.Client, string) {
	t.Helper()
	shared := apiServer.Get(t)
	c := shared.Client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "helm-"}}
	if err := c.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating the test's namespace: %v", err)
	}
	return NewChartManager(shared.Config, c, c), c, ns.Name
}

// TestCheckStillOursRefusesAnotherOwnersObject: drift repair restores an object that is missing, that
// carries meshkeeper's label, or that names the release's owner by UID; one with another's label (or
// none) and another owner of the same name is someone else's, and is not taken over.
func TestCheckStillOursRefusesAnotherOwnersObject(t *testing.T) {
	m, c, ns := onAPIServer(t)
	owner := metav1.OwnerReference{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "mesh", UID: "uid"}
	live := func(name string, labels map[string]string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, OwnerReferences: owners}}
	}
	stranger := owner
	stranger.UID = "another-uid"
	for _, obj := range []*corev1.ConfigMap{
		live("labelled", map[string]string{ManagedByLabel: ManagedByValue}),
		live("owned", nil, stranger, owner),
		live("foreign", map[string]string{ManagedByLabel: "someone-else"}, stranger),
		live("unlabelled", nil),
	} {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	for name, wantOurs := range map[string]bool{"labelled": true, "owned": true, "missing": true, "foreign": false, "unlabelled": false} {
		desired := &unstructured.Unstructured{}
		desired.SetAPIVersion("v1")
		desired.SetKind("ConfigMap")
		desired.SetNamespace(ns)
		desired.SetName(name)
		desired.SetOwnerReferences([]metav1.OwnerReference{owner})
		if err := m.checkStillOurs(t.Context(), desired); (err == nil) != wantOurs {
			t.Errorf("%s: checkStillOurs = %v, want ours: %t", name, err, wantOurs)
		}
	}
}

// TestARefusedObjectHoldsBackNoOtherRepair: drift repair refuses to restore an object someone else made
// under the name of one of the release's, and goes on with the objects after it in install order. It
// used to stop there, so a validating webhook switched to fail open (or deleted), which comes last,
// stayed so for as long as the other's ServiceAccount existed. The error still names the refused object.
func TestARefusedObjectHoldsBackNoOtherRepair(t *testing.T) {
	m, c, ns := onAPIServer(t)
	// Cluster-scoped: named for the test's namespace, and matching nothing any test creates.
	webhookName := ns + "-validator"
	release := attackRelease(ns, attackChart("drift", `apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: mesh}
data: {mesh: "{}"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: `+webhookName+`}
webhooks:
- name: validation.`+ns+`.example.com
  clientConfig:
    service: {name: istiod, namespace: {{ .Release.Namespace }}}
  rules:
  - {apiGroups: [`+ns+`.example.com], apiVersions: ["*"], operations: [CREATE], resources: [widgets]}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
`))
	ensureAll(t, m, release)

	reader := &corev1.ServiceAccount{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "reader"}, reader); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(t.Context(), reader); err != nil {
		t.Fatal(err)
	}
	theirs := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reader",
		Labels: map[string]string{"installed-by": "someone-else"}}}
	if err := c.Create(t.Context(), theirs); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mesh"}}); err != nil {
		t.Fatal(err)
	}
	validator := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: webhookName}, validator); err != nil {
		t.Fatal(err)
	}
	validator.Webhooks[0].FailurePolicy = ptr.To(admissionregistrationv1.Ignore)
	if err := c.Update(t.Context(), validator, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}

	result, err := m.Ensure(t.Context(), release)
	if err == nil || !strings.Contains(err.Error(), "ServiceAccount "+ns+"/reader exists without meshkeeper's label") {
		t.Errorf("drift repair with someone else's ServiceAccount in place: %v, want an error naming it", err)
	}
	want := []string{"ConfigMap " + ns + "/mesh", "ValidatingWebhookConfiguration " + webhookName}
	if !slices.Equal(result.Repaired, want) {
		t.Errorf("drift repair restored %v, want %v: a refused object holds back none after it", result.Repaired, want)
	}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "mesh"}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("the deleted ConfigMap after drift repair: %v, want it restored", err)
	}
	if err := c.Get(t.Context(), client.ObjectKey{Name: webhookName}, validator); err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(validator.Webhooks[0].FailurePolicy, ""); got != admissionregistrationv1.Fail {
		t.Errorf("the validator switched to fail open has failurePolicy %s after drift repair, want Fail", got)
	}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(theirs), theirs); err != nil {
		t.Fatal(err)
	}
	if len(theirs.OwnerReferences) > 0 || theirs.Labels[ManagedByLabel] != "" {
		t.Errorf("someone else's ServiceAccount was taken over: owners %v, labels %v", theirs.OwnerReferences, theirs.Labels)
	}
}

// TestADeletedObjectIsDrift: an object of the release that is gone, a CRD as any other, is drift, to be
// applied again.
func TestADeletedObjectIsDrift(t *testing.T) {
	m, _, ns := onAPIServer(t)
	objects, err := decodeManifest([]byte(`---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: ` + ns + `}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gateways.networking.istio.io}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objects {
		if drifted, err := m.drifted(t.Context(), obj); err != nil || !drifted {
			t.Errorf("%s %s deleted: drifted = %t, %v, want drift", obj.GetKind(), obj.GetName(), drifted, err)
		}
	}
}

// TestAChangedCRDIsNoDrift: of a CRD, the drift check holds its existence, not its content, which only
// an upgrade changes: a CRD edited by hand (its schema's description, a version added) is left as it is,
// not applied again.
func TestAChangedCRDIsNoDrift(t *testing.T) {
	_, c, ns := onAPIServer(t)
	// CRDs are cluster-scoped: the test's namespace names their group, which no other test's CRD has.
	group := ns + ".meshkeeper.io"
	rendered := func(plural string) *unstructured.Unstructured {
		objects, err := decodeManifest([]byte(`---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ` + plural + `.` + group + `
  labels: {` + ManagedByLabel + `: ` + ManagedByValue + `}
spec:
  group: ` + group + `
  names: {plural: ` + plural + `, kind: Widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, description: As the chart renders it.}
`))
		if err != nil {
			t.Fatal(err)
		}
		return objects[0]
	}
	for _, tc := range []struct {
		name, plural string
		edit         func(map[string]any) error
	}{
		{"its description edited", "descriptions", func(crd map[string]any) error {
			versions, _, _ := unstructured.NestedSlice(crd, "spec", "versions")
			if err := unstructured.SetNestedField(versions[0].(map[string]any), "Edited by hand.", "schema", "openAPIV3Schema", "description"); err != nil {
				return err
			}
			return unstructured.SetNestedSlice(crd, versions, "spec", "versions")
		}},
		{"a version added", "versions", func(crd map[string]any) error {
			versions, _, _ := unstructured.NestedSlice(crd, "spec", "versions")
			added := runtime.DeepCopyJSONValue(versions[0]).(map[string]any)
			added["name"], added["storage"] = "v2", false
			return unstructured.SetNestedSlice(crd, append(versions, added), "spec", "versions")
		}},
	} {
		desired := rendered(tc.plural)
		live := desired.DeepCopy()
		if err := tc.edit(live.Object); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(t.Context(), live); err != nil {
			t.Fatalf("creating the CRD with %s: %v", tc.name, err)
		}
		// A manager of its own per CRD, which has verified nothing yet.
		m := NewChartManager(apiServer.Get(t).Config, c, c)
		if drifted, err := m.drifted(t.Context(), desired); err != nil || drifted {
			t.Errorf("a CRD with %s: drifted = %t, %v, want no drift: a CRD that exists is not applied again", tc.name, drifted, err)
		}
	}
}

// TestNewestReadablePassesOverForgedRecords: the record an upgrade deletes objects by, or an uninstall
// removes them by, is the newest one at or before the revision asked for that holds that revision of
// that release. A record named for one revision that holds another release, or another revision, is
// passed over as unreadable; the first and last records of the range are read. (That an error of the
// API server is returned, never taken for an unreadable record, is TestNewestReadableReturnsAnAPIError.)
func TestNewestReadablePassesOverForgedRecords(t *testing.T) {
	m, c, ns := onAPIServer(t)
	record := func(stored string, version int, holds string, holdsVersion int) client.Object {
		rel := &releasev1.Release{Name: holds, Namespace: "elsewhere", Version: holdsVersion,
			Info:   &releasev1.Info{Status: rcommon.StatusSuperseded},
			Labels: map[string]string{DigestLabel: "d1"}}
		secret, err := recordSecret(rel, "createdAt", nil)
		if err != nil {
			t.Fatal(err)
		}
		secret.Namespace, secret.Name = ns, recordName(stored, version)
		return secret
	}
	for _, obj := range []client.Object{
		record("istiod", 1, "istiod", 1),
		record("istiod", 2, "istiod", 2),
		record("istiod", 3, "istio-base", 3), // another release's record under this one's name
		record("istiod", 4, "istiod", 2),     // another revision's record
		record("istiod", 5, "istiod", 5),
	} {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	heads := []Head{{Version: 1}, {Version: 2}, {Version: 3}, {Version: 4}, {Version: 5}, {Version: 6}}

	for _, tc := range []struct {
		upTo int
		want int // 0: none
	}{
		{upTo: 3, want: 2}, // revisions 4 and 3 are forged
		{upTo: 4, want: 5},
		{upTo: 1, want: 2},
		{upTo: 0, want: 1},
	} {
		rel, err := m.newestReadable(t.Context(), ns, "istiod", heads, tc.upTo)
		if err != nil {
			t.Fatalf("newestReadable(up to revision %d): %v", heads[tc.upTo].Version, err)
		}
		if rel == nil || rel.Version != tc.want || rel.Name != "istiod" {
			t.Errorf("newestReadable(up to revision %d) = %v, want revision %d of istiod", heads[tc.upTo].Version, rel, tc.want)
			continue
		}
		if rel.Namespace != ns || rel.Labels[DigestLabel] != "d1" {
			t.Errorf("revision %d read in namespace %q with labels %v, want namespace %s and the digest label of its Secret",
				rel.Version, rel.Namespace, rel.Labels, ns)
		}
	}
	if rel, err := m.newestReadable(t.Context(), ns, "istiod", heads[2:4], 1); err != nil || rel != nil {
		t.Errorf("newestReadable of forged records alone = %v, %v, want none", rel, err)
	}
}

// TestDeletingARecordGoneAlreadyIsNoError: deleting a record gone already is no error.
func TestDeletingARecordGoneAlreadyIsNoError(t *testing.T) {
	m, _, ns := onAPIServer(t)
	if err := m.deleteRecord(t.Context(), ns, "istiod", 1); err != nil {
		t.Errorf("deleting a record gone already: %v", err)
	}
}
