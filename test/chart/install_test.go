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

package chart

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// fieldManager is what the objects are created as, the field manager `helm install` uses.
const fieldManager = "helm"

// TestInstallIntoAPIServer creates what the chart renders, for default and for non-default values, in a
// real kube-apiserver: the CRD from the chart's crds/ (not config/crd/bases), then every object of the
// release in a fresh namespace that enforces the "restricted" Pod Security Standard. It then asks the
// API server's RBAC authorizer what the manager's ServiceAccount may and may not do.
func TestInstallIntoAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The chart's CRD is installed below, the way Helm installs crds/.
	env := testenv.Start(t, testenv.WithoutCRDs(), testenv.RecordWarnings())
	c, recorded := env.Client, env.Warnings

	installCRDs(ctx, t, c)
	sample, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "mesh_v1alpha1_servicemesh.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mesh := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(sample, &mesh.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, mesh, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("the chart's CRD does not serve the sample ServiceMesh: %v", err)
	}

	// The custom values name a PriorityClass, which must exist for the manager's pods to be admitted.
	if err := c.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "meshkeeper-critical"},
		Value: 1000000}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, release, namespace string
		values                   map[string]any
		serviceMonitors          int
	}{
		{"default", defaultRelease, defaultNamespace, nil, 0},
		{"custom", customRelease, customNamespace, customValues(), 1},
		{"release options", "opts", "mesh-options", releaseOptionValues(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			createRestrictedNamespace(ctx, t, c, tc.namespace)
			objects := render(t, tc.values, tc.release, tc.namespace)
			skipped := 0
			for _, u := range objects {
				// No prometheus-operator here: its ServiceMonitor and PrometheusRule CRDs do not exist.
				// TestCustomValues and TestPrometheusRule check what the chart renders for them.
				if u.GetKind() == "ServiceMonitor" || u.GetKind() == "PrometheusRule" {
					skipped++
					continue
				}
				recorded.Take()
				if err := c.Create(ctx, u, client.FieldOwner(fieldManager), client.FieldValidation("Strict")); err != nil {
					t.Errorf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
				}
				if w := recorded.Take(); len(w) > 0 {
					t.Errorf("creating %s %s: the API server warns: %s", u.GetKind(), u.GetName(), strings.Join(w, "; "))
				}
			}
			if skipped != tc.serviceMonitors {
				t.Errorf("the chart renders %d ServiceMonitors, want %d", skipped, tc.serviceMonitors)
			}

			deploy := &appsv1.Deployment{}
			fullname := objects.fullname()
			if err := c.Get(ctx, client.ObjectKey{Namespace: tc.namespace, Name: fullname}, deploy); err != nil {
				t.Fatal(err)
			}
			admitPod(ctx, t, c, deploy)

			sa := "system:serviceaccount:" + tc.namespace + ":" + fullname
			for _, check := range []struct {
				attrs authorizationv1.ResourceAttributes
				want  bool
			}{
				// The manager elects a leader whatever leaderElection.enabled says.
				{resourceAttrs(tc.namespace, "coordination.k8s.io", "leases", "create"), true},
				{resourceAttrs(tc.namespace, "coordination.k8s.io", "leases", "update"), true},
				{resourceAttrs(tc.namespace, "", "events", "create"), true},
				{resourceAttrs("", "authentication.k8s.io", "tokenreviews", "create"), true},
				{resourceAttrs("", "authorization.k8s.io", "subjectaccessreviews", "create"), true},
				{resourceAttrs("", "mesh.meshkeeper.io", "servicemeshes", "watch"), true},
				{resourceAttrs("", "mesh.meshkeeper.io", "servicemeshes", "patch"), true},
				{subresourceAttrs("mesh.meshkeeper.io", "servicemeshes", "status", "patch"), true},
				{resourceAttrs("istio-system", "", "secrets", "delete"), true},
				{resourceAttrs("istio-system", "", "secrets", "update"), true},
				{resourceAttrs("istio-system", "apps", "deployments", "create"), true},
				{resourceAttrs("", "apiextensions.k8s.io", "customresourcedefinitions", "patch"), true},
				{resourceAttrs("", "rbac.authorization.k8s.io", "clusterroles", "escalate"), true},
				{resourceAttrs("", "events.k8s.io", "events", "create"), true},
				{resourceAttrs("shop", "networking.k8s.io", "ingresses", "patch"), true},
				{resourceAttrs("ingress-nginx", "apps", "daemonsets", "patch"), true},
				// The istio-cni release's DaemonSet, installed and uninstalled through Helm.
				{resourceAttrs("kube-system", "apps", "daemonsets", "create"), true},
				{resourceAttrs("istio-system", "apps", "daemonsets", "delete"), true},
				{resourceAttrs("shop", "", "pods", "list"), true},
				// What meshkeeper never does.
				{resourceAttrs("", "", "secrets", "watch"), false},
				{resourceAttrs("istio-system", "", "secrets", "patch"), false},
				{resourceAttrs("kube-system", "coordination.k8s.io", "leases", "create"), false},
				{resourceAttrs("", "mesh.meshkeeper.io", "servicemeshes", "create"), false},
				{resourceAttrs("", "mesh.meshkeeper.io", "servicemeshes", "update"), false},
				{resourceAttrs("", "apiextensions.k8s.io", "customresourcedefinitions", "delete"), false},
				// Every write but Helm's release records and the finalizers is a server-side apply.
				{subresourceAttrs("mesh.meshkeeper.io", "servicemeshes", "status", "update"), false},
				{resourceAttrs("", "apiextensions.k8s.io", "customresourcedefinitions", "update"), false},
				{resourceAttrs("istio-system", "apps", "deployments", "update"), false},
				{resourceAttrs("", "", "namespaces", "update"), false},
				{resourceAttrs("shop", "", "pods", "update"), false},
				{resourceAttrs("shop", "", "pods", "delete"), false},
				{resourceAttrs("shop", "networking.k8s.io", "ingresses", "update"), false},
				{resourceAttrs("shop", "networking.k8s.io", "ingresses", "delete"), false},
				{subresourceAttrs("", "pods", "exec", "create"), false},
				{resourceAttrs("", "", "nodes", "list"), false},
			} {
				if got := allowed(ctx, t, c, sa, tc.namespace, &check.attrs, nil); got != check.want {
					t.Errorf("%s may %s %s/%s in %q: %v, want %v", sa, check.attrs.Verb, check.attrs.Group,
						check.attrs.Resource+subresourceSuffix(check.attrs.Subresource), check.attrs.Namespace, got, check.want)
				}
			}
		})
	}

	// A scraper may read the metrics once the metrics-reader ClusterRole is bound to it, and not before.
	scraper := "system:serviceaccount:monitoring:prometheus"
	metrics := &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}
	if allowed(ctx, t, c, scraper, "monitoring", nil, metrics) {
		t.Fatal("an unbound scraper may GET /metrics; the check below would prove nothing")
	}
	if err := c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-meshkeeper-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: defaultRelease + "-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: "monitoring"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		return allowed(ctx, t, c, scraper, "monitoring", nil, metrics), nil
	}); err != nil {
		t.Errorf("a scraper bound to %s-metrics-reader may not GET /metrics: %v", defaultRelease, err)
	}
}

// installCRDs creates the CRDs of the chart's crds/ and waits until the API server serves them.
func installCRDs(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	crds := loadChart(t).CRDObjects()
	if len(crds) == 0 {
		t.Fatal("the chart has no CRDs")
	}
	for _, crd := range crds {
		objects, err := decodeObjects(crd.File.Data)
		if err != nil {
			t.Fatalf("%s: %v", crd.Name, err)
		}
		for _, u := range objects {
			if err := c.Create(ctx, u, client.FieldOwner(fieldManager), client.FieldValidation("Strict")); err != nil {
				t.Fatalf("creating the CRD of %s: %v", crd.Name, err)
			}
			key := client.ObjectKeyFromObject(u)
			if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(u.GroupVersionKind())
				if err := c.Get(ctx, key, got); err != nil {
					return false, err
				}
				conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
				for _, cond := range conditions {
					if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
						return servedByDiscovery(got, c), nil
					}
				}
				return false, nil
			}); err != nil {
				t.Fatalf("CRD %s is not established: %v", key.Name, err)
			}
		}
	}
}

// createRestrictedNamespace creates a namespace that enforces, and warns about, the "restricted" Pod
// Security Standard, as docs/install.md recommends for the operator's namespace.
func createRestrictedNamespace(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
}

// admitPod asks the API server (dry run: no scheduler here) to admit a pod made from the Deployment's
// template in its "restricted" namespace, and then one that breaks the standard, which must be refused so
// that the first check is known to mean something.
func admitPod(ctx context.Context, t *testing.T, c client.Client, deploy *appsv1.Deployment) {
	t.Helper()
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: deploy.Namespace, Labels: deploy.Spec.Template.Labels},
			Spec:       *deploy.Spec.Template.Spec.DeepCopy(),
		}
	}
	if err := c.Create(ctx, pod("manager"), client.DryRunAll); err != nil {
		t.Errorf("a pod of the Deployment is not admitted: %v", err)
	}
	escalating := pod("escalating")
	escalating.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
	err := c.Create(ctx, escalating, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("namespace %s admits a pod that may escalate privileges (%v): it does not enforce \"restricted\"",
			deploy.Namespace, err)
	}
}

func resourceAttrs(namespace, group, resource, verb string) authorizationv1.ResourceAttributes {
	return authorizationv1.ResourceAttributes{Namespace: namespace, Group: group, Resource: resource, Verb: verb}
}

func subresourceAttrs(group, resource, subresource, verb string) authorizationv1.ResourceAttributes {
	return authorizationv1.ResourceAttributes{Group: group, Resource: resource, Subresource: subresource, Verb: verb}
}

func subresourceSuffix(subresource string) string {
	if subresource == "" {
		return ""
	}
	return "/" + subresource
}

// allowed asks the API server's authorizer whether the ServiceAccount user may do what attrs describe.
func allowed(ctx context.Context, t *testing.T, c client.Client, user, namespace string,
	attrs *authorizationv1.ResourceAttributes, nonResource *authorizationv1.NonResourceAttributes) bool {
	t.Helper()
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:                  user,
		Groups:                []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		ResourceAttributes:    attrs,
		NonResourceAttributes: nonResource,
	}}
	if err := c.Create(ctx, review); err != nil {
		t.Fatalf("asking whether %s may %v%v: %v", user, attrs, nonResource, err)
	}
	return review.Status.Allowed
}

// servedByDiscovery tells whether c's REST mapper maps the kind of crd at each of its versions. The API
// server sets Established before its discovery documents list the new kind, and a client that asks in
// between gets "no matches for kind".
func servedByDiscovery(crd *unstructured.Unstructured, c client.Client) bool {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		name, _, _ := unstructured.NestedString(v.(map[string]any), "name")
		if _, err := c.RESTMapper().RESTMapping(schema.GroupKind{Group: group, Kind: kind}, name); err != nil {
			return false
		}
	}
	return true
}
