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

package generator

import (
	"fmt"
	"slices"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// ManagerContainer is the container of the manager Deployment whose image is the operator image.
const ManagerContainer = "manager"

// kustomizeLabel is the label config/ puts on its objects for `make deploy`; under OLM it would be
// untrue, since OLM creates and owns them.
const kustomizeLabel = "app.kubernetes.io/managed-by"

// kustomizeBuild builds the kustomization in dir in process, with the same library `kustomize build`
// runs, so generating the bundle needs no kustomize binary.
func kustomizeBuild(dir string) ([]map[string]any, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objects []map[string]any
	for _, r := range resources.Resources() {
		// Through JSON, for the int64 and float64 numbers unstructured objects are made of.
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
		}
		obj := map[string]any{}
		if err := utiljson.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
		}
		objects = append(objects, obj)
	}
	return objects, nil
}

// extraManifest is an object of config/default that goes into the bundle as a manifest of its own.
type extraManifest struct {
	file   string
	object map[string]any
}

// install is what config/default becomes in a bundle.
type install struct {
	strategy operatorsv1alpha1.NamedInstallStrategy
	// namespace is the Namespace config/default creates, suggested to whoever installs the bundle.
	namespace map[string]any
	extras    []extraManifest
}

func (i install) namespaceName() string {
	name, _, _ := unstructured.NestedString(i.namespace, "metadata", "name")
	return name
}

// installFrom turns the objects of config/default into OLM's terms. OLM creates the manager's
// Deployment, its ServiceAccount, and for that ServiceAccount the rules of every role it is bound to,
// from spec.install; bundle manifests of those would clash with what OLM creates. So:
//
//   - the Deployment becomes spec.install.spec.deployments, with image as the manager's image;
//   - a ClusterRole bound to the Deployment's ServiceAccount by a ClusterRoleBinding becomes
//     clusterPermissions, a Role (or ClusterRole) bound by a RoleBinding becomes permissions; the
//     ServiceAccount and the bindings are dropped;
//   - the Namespace becomes the suggested namespace: OLM installs into a namespace the user chooses;
//   - the CRDs are taken from config/crd/bases instead, unchanged;
//   - Services and unbound ClusterRoles and Roles (the metrics Service, the metrics reader, the
//     aggregated editor and viewer roles) stay objects of their own, without a namespace, which OLM
//     sets to the operator's.
//
// Any other kind is an error, so a new kind in config/default is a decision, not an omission.
func installFrom(objects []map[string]any, image string, crds []crdFile) (install, error) {
	var (
		result      install
		deployments []*unstructured.Unstructured
		bindings    []*unstructured.Unstructured
		roles       = map[string]*unstructured.Unstructured{} // by kind/name
		roleOrder   []string
		crdNames    []string
	)
	for _, obj := range objects {
		u := &unstructured.Unstructured{Object: obj}
		switch u.GetKind() {
		case "Deployment":
			deployments = append(deployments, u)
		case "ServiceAccount":
		case "ClusterRole", "Role":
			key := u.GetKind() + "/" + u.GetName()
			roles[key] = u
			roleOrder = append(roleOrder, key)
		case "ClusterRoleBinding", "RoleBinding":
			bindings = append(bindings, u)
		case "Namespace":
			if result.namespace != nil {
				return install{}, fmt.Errorf("config/default creates more than one Namespace")
			}
			withoutKustomizeLabel(u)
			result.namespace = map[string]any{
				"apiVersion": "v1",
				"kind":       "Namespace",
				"metadata":   map[string]any{"name": u.GetName(), "labels": toAny(u.GetLabels())},
			}
		case "CustomResourceDefinition":
			crdNames = append(crdNames, u.GetName())
		case "Service":
			result.extras = append(result.extras, extra(u))
		default:
			return install{}, fmt.Errorf("config/default has a %s (%s), which the bundle generator does not place", u.GetKind(), u.GetName())
		}
	}
	if result.namespace == nil {
		return install{}, fmt.Errorf("config/default creates no Namespace to suggest")
	}
	var bases []string
	for _, crd := range crds {
		bases = append(bases, crd.crd.Name)
	}
	slices.Sort(crdNames)
	slices.Sort(bases)
	if !slices.Equal(crdNames, bases) {
		return install{}, fmt.Errorf("config/default installs the CRDs %v, config/crd/bases has %v", crdNames, bases)
	}
	if len(deployments) == 0 {
		return install{}, fmt.Errorf("config/default has no Deployment")
	}

	result.strategy.StrategyName = operatorsv1alpha1.InstallStrategyNameDeployment
	bound := map[string]bool{}
	for _, d := range deployments {
		spec, err := deploymentSpec(d, image)
		if err != nil {
			return install{}, err
		}
		withoutKustomizeLabel(d)
		result.strategy.StrategySpec.DeploymentSpecs = append(result.strategy.StrategySpec.DeploymentSpecs,
			operatorsv1alpha1.StrategyDeploymentSpec{Name: d.GetName(), Spec: *spec, Label: d.GetLabels()})

		sa := spec.Template.Spec.ServiceAccountName
		if sa == "" {
			return install{}, fmt.Errorf("deployment %s names no serviceAccountName", d.GetName())
		}
		cluster := operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa}
		namespaced := operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa}
		for _, b := range bindings {
			if !bindsServiceAccount(b, sa, d.GetNamespace()) {
				continue
			}
			refKind, _, _ := unstructured.NestedString(b.Object, "roleRef", "kind")
			refName, _, _ := unstructured.NestedString(b.Object, "roleRef", "name")
			key := refKind + "/" + refName
			role, ok := roles[key]
			if !ok {
				return install{}, fmt.Errorf("%s %s binds %s, which config/default does not have", b.GetKind(), b.GetName(), key)
			}
			rules, err := rulesOf(role)
			if err != nil {
				return install{}, err
			}
			if b.GetKind() == "ClusterRoleBinding" {
				cluster.Rules = append(cluster.Rules, rules...)
			} else {
				namespaced.Rules = append(namespaced.Rules, rules...)
			}
			bound[key] = true
		}
		if len(cluster.Rules) > 0 {
			result.strategy.StrategySpec.ClusterPermissions = append(result.strategy.StrategySpec.ClusterPermissions, cluster)
		}
		if len(namespaced.Rules) > 0 {
			result.strategy.StrategySpec.Permissions = append(result.strategy.StrategySpec.Permissions, namespaced)
		}
	}
	for _, b := range bindings {
		used := false
		for _, d := range deployments {
			sa, _, _ := unstructured.NestedString(d.Object, "spec", "template", "spec", "serviceAccountName")
			used = used || bindsServiceAccount(b, sa, d.GetNamespace())
		}
		if !used {
			return install{}, fmt.Errorf("%s %s binds no ServiceAccount of a Deployment; OLM would not create it", b.GetKind(), b.GetName())
		}
	}
	for _, key := range roleOrder {
		if !bound[key] {
			result.extras = append(result.extras, extra(roles[key]))
		}
	}
	return result, nil
}

// deploymentSpec is the spec of d with image as the manager container's image. It is decoded strictly:
// a field the Deployment API does not have would be dropped by OLM.
func deploymentSpec(d *unstructured.Unstructured, image string) (*appsv1.DeploymentSpec, error) {
	spec, ok, err := unstructured.NestedMap(d.Object, "spec")
	if err != nil || !ok {
		return nil, fmt.Errorf("deployment %s has no spec: %w", d.GetName(), err)
	}
	containers, _, err := unstructured.NestedSlice(spec, "template", "spec", "containers")
	if err != nil {
		return nil, fmt.Errorf("deployment %s: %w", d.GetName(), err)
	}
	found := false
	for _, c := range containers {
		container, ok := c.(map[string]any)
		if ok && container["name"] == ManagerContainer {
			container["image"] = image
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("deployment %s has no container %q", d.GetName(), ManagerContainer)
	}
	if err := unstructured.SetNestedSlice(spec, containers, "template", "spec", "containers"); err != nil {
		return nil, fmt.Errorf("deployment %s: %w", d.GetName(), err)
	}
	typed := &appsv1.DeploymentSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(spec, typed, true); err != nil {
		return nil, fmt.Errorf("deployment %s: %w", d.GetName(), err)
	}
	return typed, nil
}

func bindsServiceAccount(binding *unstructured.Unstructured, name, namespace string) bool {
	subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
	for _, s := range subjects {
		subject, ok := s.(map[string]any)
		if ok && subject["kind"] == "ServiceAccount" && subject["name"] == name && subject["namespace"] == namespace {
			return true
		}
	}
	return false
}

func rulesOf(role *unstructured.Unstructured) ([]rbacv1.PolicyRule, error) {
	var typed rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(role.Object, &typed); err != nil {
		return nil, fmt.Errorf("%s %s: %w", role.GetKind(), role.GetName(), err)
	}
	if typed.AggregationRule != nil {
		return nil, fmt.Errorf("%s %s aggregates other roles; OLM grants rules, not aggregations", role.GetKind(), role.GetName())
	}
	return typed.Rules, nil
}

// extra is u as a bundle manifest of its own, named the way operator-sdk names them:
// <name>_<group>_<version>_<kind>.yaml.
func extra(u *unstructured.Unstructured) extraManifest {
	u.SetNamespace("")
	withoutKustomizeLabel(u)
	file := fmt.Sprintf("%s_%s_%s.yaml", u.GetName(), strings.ReplaceAll(u.GetAPIVersion(), "/", "_"), strings.ToLower(u.GetKind()))
	return extraManifest{file: file, object: u.Object}
}

func withoutKustomizeLabel(u *unstructured.Unstructured) {
	labels := u.GetLabels()
	if _, ok := labels[kustomizeLabel]; ok {
		delete(labels, kustomizeLabel)
		u.SetLabels(labels)
	}
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
