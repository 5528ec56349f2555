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

package bundle

import (
	"context"
	"strings"
	"testing"
	"time"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestAgainstAPIServer asks a real kube-apiserver what OLM will ask one when it installs the bundle:
//
//   - the bundle's CRD is installed from bundle/manifests (not config/), so the API server's own CRD
//     validation runs on it, as CustomResourceDefinitionValidator does offline;
//   - every API the bundle uses is served (AlphaDeprecatedAPIsValidator, against a current server);
//   - every alm-example is created with a server-side dry run and strict field validation, so it is
//     valid against the CRD's schema, CEL rules and defaults; a broken example is rejected;
//   - in the suggested namespace, which enforces the restricted Pod Security Standard, the objects OLM
//     creates from the CSV (the ServiceAccount, the rules as a ClusterRole and a Role, the Deployment and
//     a Pod of its template) and the other manifests are accepted, with no warning.
func TestAgainstAPIServer(t *testing.T) {
	b := committedBundle(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	env := testenv.Start(t, testenv.WithCRDs(b.crds...), testenv.RecordWarnings())
	c, recorded := env.Client, env.Warnings
	for _, crd := range b.crds {
		installed := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: crd.Name}, installed); err != nil {
			t.Fatalf("the bundle's CRD %s was not installed: %v", crd.Name, err)
		}
	}

	// dryRun creates u as OLM or a user would, without keeping it, and fails on an error or a warning.
	dryRun := func(t *testing.T, what string, u *unstructured.Unstructured) {
		t.Helper()
		recorded.Take()
		if err := c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		if w := recorded.Take(); len(w) > 0 {
			t.Errorf("%s: the API server warns: %v", what, w)
		}
	}
	// rejected fails unless the API server refuses u: proof that dryRun's checks can fail.
	rejected := func(t *testing.T, what string, u *unstructured.Unstructured) {
		t.Helper()
		if err := c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict")); err == nil {
			t.Errorf("the API server accepted %s", what)
		}
	}

	t.Run("served apis", func(t *testing.T) {
		for gvk, where := range kubeAPIs(b) {
			if _, err := c.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				t.Errorf("%s uses %s, which the API server does not serve: %v", where, gvk, err)
			}
		}
		// The built-in kinds a ServiceMesh owns, as the console looks them up; the Istio kinds come
		// from the CRDs of Istio's base chart, which this server does not have.
		for _, owned := range b.csv.Spec.CustomResourceDefinitions.Owned {
			for _, r := range owned.Resources {
				gv, err := schema.ParseGroupVersion(r.Version)
				if err != nil {
					t.Errorf("the resources of %s: %s has the apiVersion %q: %v", owned.Name, r.Kind, r.Version, err)
					continue
				}
				if strings.HasSuffix(gv.Group, ".istio.io") {
					continue
				}
				if _, err := c.RESTMapper().RESTMapping(gv.WithKind(r.Kind).GroupKind(), gv.Version); err != nil {
					t.Errorf("the resources of %s list %s %s, which the API server does not serve: %v", owned.Name, r.Version, r.Kind, err)
				}
			}
		}
		if _, err := c.RESTMapper().RESTMapping(schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"}, "v1beta1"); err == nil {
			t.Error("the API server serves policy/v1beta1, removed in 1.25: this check cannot fail")
		}
	})

	t.Run("examples", func(t *testing.T) {
		list, err := examples(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range list {
			dryRun(t, "alm-example "+u.GetKind()+" "+u.GetName(), u.DeepCopy())
		}
		invalid := list[0].DeepCopy()
		_ = unstructured.SetNestedField(invalid.Object, "DISABLE", "spec", "mtls", "mode")
		rejected(t, "an example with mtls.mode DISABLE", invalid)
		unknown := list[0].DeepCopy()
		_ = unstructured.SetNestedField(unknown.Object, int64(2), "spec", "replicas")
		rejected(t, "an example with the unknown field spec.replicas", unknown)
	})

	t.Run("objects OLM creates", func(t *testing.T) {
		ns, err := suggestedNamespace(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, ns); err != nil {
			t.Fatalf("creating the suggested namespace: %v", err)
		}
		namespace := ns.GetName()
		strategy := b.csv.Spec.InstallStrategy.StrategySpec
		for _, sa := range serviceAccounts(b) {
			account := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
				"metadata": map[string]any{"name": sa, "namespace": namespace}}}
			if err := c.Create(ctx, account); err != nil {
				t.Fatalf("creating the ServiceAccount %s: %v", sa, err)
			}
		}
		for _, p := range strategy.ClusterPermissions {
			dryRun(t, "the clusterPermissions of "+p.ServiceAccountName, role(t, "ClusterRole", "", p.Rules))
		}
		for _, p := range strategy.Permissions {
			dryRun(t, "the permissions of "+p.ServiceAccountName, role(t, "Role", namespace, p.Rules))
		}

		for _, m := range b.manifests {
			for _, u := range m.objects {
				if u.GetKind() == "ClusterServiceVersion" || u.GetKind() == "CustomResourceDefinition" {
					continue
				}
				obj := u.DeepCopy()
				mapping, err := c.RESTMapper().RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
				if err != nil {
					t.Errorf("%s: %v", m.path, err)
					continue
				}
				if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
					obj.SetNamespace(namespace)
				}
				dryRun(t, m.path, obj)
			}
		}

		for _, d := range strategy.DeploymentSpecs {
			spec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&d.Spec)
			if err != nil {
				t.Fatal(err)
			}
			deployment := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
				"metadata": map[string]any{"name": d.Name, "namespace": namespace}, "spec": spec}}
			deployment.SetLabels(d.Label)
			dryRun(t, "the Deployment "+d.Name, deployment.DeepCopy())

			// The Pod Security admission plugin rejects a pod, not a Deployment, that breaks the
			// namespace's enforced level.
			template, _, _ := unstructured.NestedMap(spec, "template")
			pod := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
				"metadata": template["metadata"], "spec": template["spec"]}}
			pod.SetName(d.Name + "-pod")
			pod.SetNamespace(namespace)
			dryRun(t, "a pod of the Deployment "+d.Name, pod.DeepCopy())

			privileged := pod.DeepCopy()
			containers, _, _ := unstructured.NestedSlice(privileged.Object, "spec", "containers")
			_ = unstructured.SetNestedField(containers[0].(map[string]any), true, "securityContext", "allowPrivilegeEscalation")
			_ = unstructured.SetNestedSlice(privileged.Object, containers, "spec", "containers")
			rejected(t, "a pod allowed privilege escalation in the suggested namespace", privileged)
		}
	})
}

// kubeAPIs are the Kubernetes APIs the bundle uses: its manifests but the CSV (OLM's own API), the
// Deployments OLM creates from it, and the Namespace it suggests.
func kubeAPIs(b *bundle) map[schema.GroupVersionKind]string {
	apis := map[schema.GroupVersionKind]string{}
	for _, m := range b.manifests {
		for _, u := range m.objects {
			if u.GetKind() != operatorsv1alpha1.ClusterServiceVersionKind {
				apis[u.GroupVersionKind()] = m.path
			}
		}
	}
	apis[appsv1.SchemeGroupVersion.WithKind("Deployment")] = "spec.install"
	apis[schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}] = generator.AnnotationSuggestedNamespaceTemplate
	return apis
}

// role is a ClusterRole or Role with rules, as OLM creates them for a CSV's permissions.
func role(t *testing.T, kind, namespace string, rules []rbacv1.PolicyRule) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
		"metadata": map[string]any{"name": "meshkeeper-bundle-check"}, "rules": normalized(t, rules)}}
	if namespace != "" {
		u.SetNamespace(namespace)
	}
	return u
}
