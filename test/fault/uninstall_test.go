//go:build cluster

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

package fault

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/meshkeeper/meshkeeper/test/faultkit"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// ignoredResources change on their own in a running cluster, whoever else does anything: the events
// of every component, the Leases of their heartbeats and leader elections, and what the endpoints
// controllers and the API server derive from Services and from themselves.
var ignoredResources = []string{"events", "leases", "endpoints", "endpointslices", "componentstatuses"}

// clusterObjects are what Kubernetes creates in every new namespace.
var clusterObjects = []string{"configmaps/kube-root-ca.crt", "serviceaccounts/default"}

// leftover is one row of docs/uninstall.md's table of what an uninstall leaves behind: an object
// (kind and a name pattern) or an annotation key.
type leftover struct {
	what, kind, name string
}

// leftovers reads the table under "## Exactly what is left" in docs/uninstall.md: the doc is the one
// list of what an uninstall may leave, and this test allows exactly that.
func leftovers(t *testing.T) []leftover {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.RepoRoot(), "docs", "uninstall.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []leftover
	in := false
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Exactly what is left"
		case in && strings.HasPrefix(line, "| object |"), in && strings.HasPrefix(line, "| annotation |"):
			cells := strings.Split(line, "|")
			if len(cells) < 5 {
				t.Fatalf("docs/uninstall.md: a row with too few cells: %s", line)
			}
			cell := func(i int) string { return strings.Trim(strings.TrimSpace(cells[i]), "`") }
			row := leftover{what: cell(1), kind: cell(2), name: cell(3)}
			// One key a row: a cell listing two would match neither, and allow nothing.
			if strings.ContainsAny(row.kind, "`, ") {
				t.Fatalf("docs/uninstall.md: a row names more than one %s: %s", row.what, line)
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		t.Fatal("docs/uninstall.md has no table of leftovers under \"## Exactly what is left\"")
	}
	return rows
}

// allows says whether the doc's table allows the object key, created by the install, to be left.
func allows(rows []leftover, key faultkit.ObjectKey, obj *unstructured.Unstructured) bool {
	for _, row := range rows {
		if row.what != "object" || row.kind != obj.GetKind() {
			continue
		}
		if ok, _ := path.Match(row.name, key.Name); ok {
			return true
		}
	}
	return false
}

// normalized is the part of an object an uninstall must leave as it was: everything but what the API
// server maintains (resourceVersion, managedFields, uid, creationTimestamp) and the status, which the
// cluster's controllers own. The annotations the doc's table allows are left out too.
func normalized(obj *unstructured.Unstructured, rows []leftover) map[string]any {
	o := obj.DeepCopy().Object
	for _, field := range []string{"resourceVersion", "managedFields", "uid", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(o, "metadata", field)
	}
	delete(o, "status")
	for _, row := range rows {
		if row.what != "annotation" {
			continue
		}
		unstructured.RemoveNestedField(o, "metadata", "annotations", row.kind)
		unstructured.RemoveNestedField(o, "spec", "template", "metadata", "annotations", row.kind)
		for _, fields := range [][]string{{"metadata", "annotations"}, {"spec", "template", "metadata", "annotations"}} {
			if m, found, _ := unstructured.NestedMap(o, fields...); found && len(m) == 0 {
				unstructured.RemoveNestedField(o, fields...)
			}
		}
	}
	return o
}

// snapshot is every object of the cluster, normalized, by key.
func snapshot(e *env, rows []leftover) map[faultkit.ObjectKey]map[string]any {
	e.t.Helper()
	all, err := faultkit.ListAll(e.ctx, sim.RESTConfig())
	if err != nil {
		e.fatalf("listing every object: %v", err)
	}
	s := map[faultkit.ObjectKey]map[string]any{}
	for key, obj := range all {
		if !slices.Contains(ignoredResources, key.GVR.Resource) {
			s[key] = normalized(obj, rows)
		}
	}
	return s
}

// TestUninstallIsExact snapshots every object of the cluster, installs a mesh that enrolls a namespace
// with the user's own labels and an Ingress, adds user objects after the install (a ConfigMap in the
// control-plane namespace, an enrolled namespace with its own labels and annotations, an Ingress with
// user annotations, a PeerAuthentication), and uninstalls. Every object that existed before must be
// exactly as it was, every user object exactly as the user wrote it, and nothing else may be left but
// what docs/uninstall.md lists under "Exactly what is left".
func TestUninstallIsExact(t *testing.T) {
	e := newEnv(t, 8*time.Minute)
	rows := leftovers(t)
	before, after := fmt.Sprintf("exact-before-r%d", e.run), fmt.Sprintf("exact-after-r%d", e.run)
	names := strings.NewReplacer("exact-before", before, "exact-after", after)
	e.apply(names.Replace(`apiVersion: v1
kind: Namespace
metadata:
  name: exact-before
  labels: {fault-exact: "true", team: shop}
  annotations: {owner.example.com/contact: shop-team}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: exact-before
  annotations: {nginx.ingress.kubernetes.io/rewrite-target: /}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: web, port: {number: 80}}}
`))
	t.Cleanup(func() {
		// The user's ConfigMap kept the control-plane namespace; the next scenario starts without it.
		_, _ = testenv.Kubectl(sim.Kubeconfig(), "", "delete", "namespace", before, after, "--wait=false", "--ignore-not-found")
		_, _ = testenv.Kubectl(sim.Kubeconfig(), "", "delete", "namespace", controlPlaneNamespace, "--timeout=2m", "--ignore-not-found")
	})
	// A namespace an earlier scenario deleted may still be terminating; a snapshot with it would expect
	// it back.
	e.waitFor("no namespace terminating", 3*time.Minute, func() string {
		namespaces := &corev1.NamespaceList{}
		if err := e.client.List(e.ctx, namespaces); err != nil {
			return err.Error()
		}
		for _, ns := range namespaces.Items {
			if ns.DeletionTimestamp != nil {
				return "namespace " + ns.Name + " is terminating"
			}
		}
		return ""
	})
	snapshotBefore := snapshot(e, rows)

	e.apply(meshManifest("1.31.0", "fault-exact"))
	e.start("manager")
	e.waitFor("the mesh Ready", 4*time.Minute, e.ready("1.31.0"))

	// The user's objects after the install, recorded as the user wrote them (before meshkeeper could
	// touch any of them).
	users := map[faultkit.ObjectKey]map[string]any{}
	decoder := yaml.NewYAMLOrJSONDecoder(strings.NewReader(names.Replace(userObjects)), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); err != nil {
			break
		}
		if err := e.client.Create(e.ctx, obj); err != nil {
			e.fatalf("creating %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		users[keyOf(e, obj)] = normalized(obj, rows)
	}
	e.waitFor("the namespace created after the install enrolled", time.Minute, func() string {
		if e.enrolled([]string{before, after}) != 2 {
			return before + " and " + after + " are not both enrolled"
		}
		return ""
	})

	e.deleteMesh()
	e.waitFor("the ServiceMesh gone", 3*time.Minute, e.gone)
	e.checkInvariants(uninstalled)

	var diff []string
	deadline := time.Now().Add(time.Minute) // the garbage collector may still be at work
	for {
		diff = compare(snapshotBefore, users, snapshot(e, rows), rows)
		if len(diff) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if len(diff) > 0 {
		e.fatalf("the uninstall left the cluster different from before (beyond docs/uninstall.md's list):\n  %s", strings.Join(diff, "\n  "))
	}
}

// userObjects are created after the install.
const userObjects = `apiVersion: v1
kind: ConfigMap
metadata: {name: user-settings, namespace: istio-system, labels: {team: platform}}
data: {note: "kept by the user"}
---
apiVersion: v1
kind: Namespace
metadata:
  name: exact-after
  labels: {fault-exact: "true", team: pay}
  annotations: {owner.example.com/contact: pay-team}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: pay
  namespace: exact-after
  annotations: {nginx.ingress.kubernetes.io/ssl-redirect: "false"}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: pay, port: {number: 8080}}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: user-strict, namespace: exact-after, labels: {team: pay}}
spec: {mtls: {mode: STRICT}}
`

// compare lists how after differs from before, beyond the user's objects and the doc's leftovers.
func compare(before, users, after map[faultkit.ObjectKey]map[string]any, rows []leftover) []string {
	var diff []string
	for key, was := range before {
		now, ok := after[key]
		switch {
		case !ok:
			diff = append(diff, fmt.Sprintf("%s was deleted", key))
		case !reflect.DeepEqual(was, now):
			diff = append(diff, fmt.Sprintf("%s changed:\n    before: %v\n    after:  %v", key, was, now))
		}
	}
	for key, want := range users {
		now, ok := after[key]
		switch {
		case !ok:
			diff = append(diff, fmt.Sprintf("the user's %s was deleted", key))
		case !reflect.DeepEqual(want, now):
			diff = append(diff, fmt.Sprintf("the user's %s changed:\n    written: %v\n    after:   %v", key, want, now))
		}
	}
	for key, now := range after {
		if _, ok := before[key]; ok {
			continue
		}
		if _, ok := users[key]; ok {
			continue
		}
		if key.Namespace != "" && slices.Contains(clusterObjects, key.GVR.Resource+"/"+key.Name) {
			continue
		}
		if allows(rows, key, &unstructured.Unstructured{Object: now}) {
			continue
		}
		diff = append(diff, fmt.Sprintf("%s was left behind", key))
	}
	slices.Sort(diff)
	return diff
}

// keyOf is the key of obj, its resource found through the client's REST mapper.
func keyOf(e *env, obj *unstructured.Unstructured) faultkit.ObjectKey {
	e.t.Helper()
	mapping, err := e.client.RESTMapper().RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
	if err != nil {
		e.fatalf("mapping %s: %v", obj.GroupVersionKind(), err)
	}
	return faultkit.ObjectKey{GVR: mapping.Resource, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}
