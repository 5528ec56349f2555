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
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// The end states a scenario converges to.
const (
	meshReady   = "Ready"
	uninstalled = "uninstalled"
)

// checkInvariants waits up to a minute for every invariant to hold in the given end state (the
// garbage collector and the controllers of the cluster may still be finishing), and fails the test
// with each violation when they do not:
//   - no Helm release in the control-plane namespace is left pending;
//   - no webhook configuration calls a Service that does not exist;
//   - every object marked as meshkeeper's or Helm's belongs to a deployed release or to the live
//     ServiceMesh by owner reference (the Istio CRDs, kept on purpose, excepted);
//   - the ServiceMesh is Ready, or it is gone with everything it installed: no release Secret, no
//     istiod, no webhook of meshkeeper's, no injection label of meshkeeper's on any namespace.
func (e *env) checkInvariants(state string) {
	e.t.Helper()
	var violations []string
	deadline := time.Now().Add(time.Minute)
	for {
		violations = e.violations(state)
		if len(violations) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(violations) > 0 {
		e.fatalf("invariants broken (%s):\n  %s", state, strings.Join(violations, "\n  "))
	}
}

func (e *env) violations(state string) []string {
	var v []string
	add := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }

	secrets := &corev1.SecretList{}
	if err := e.client.List(e.ctx, secrets, client.InNamespace(controlPlaneNamespace), client.MatchingLabels{"owner": "helm"}); err != nil {
		return []string{err.Error()}
	}
	deployed := map[string]bool{}
	for _, s := range secrets.Items {
		status := s.Labels["status"]
		if strings.HasPrefix(status, "pending") {
			add("release Secret %s is %s", s.Name, status)
		}
		if status == "deployed" {
			if deployed[s.Labels["name"]] {
				add("release %s has more than one deployed revision", s.Labels["name"])
			}
			deployed[s.Labels["name"]] = true
		}
	}

	for _, service := range e.webhookServices() {
		if err := e.client.Get(e.ctx, service.key, &corev1.Service{}); err != nil {
			add("%s calls Service %s: %v", service.webhook, service.key, err)
		}
	}

	mesh := e.mesh()
	all, err := listAll(e.ctx)
	if err != nil {
		return append(v, err.Error())
	}
	for key, obj := range all {
		if key.gvr.Resource == "endpoints" {
			continue // the endpoints controller's copy of a Service's labels, deleted with the Service
		}
		if reason := orphaned(obj, mesh, deployed); reason != "" {
			add("%s: %s", key, reason)
		}
	}

	switch state {
	case meshReady:
		if got := e.ready("")(); got != "" {
			add("the ServiceMesh is not Ready: %s", got)
		}
	case uninstalled:
		if mesh != nil {
			add("the ServiceMesh still exists (deletionTimestamp %v)", mesh.DeletionTimestamp)
		}
		for _, s := range secrets.Items {
			add("release Secret %s is left", s.Name)
		}
		deployments := &appsv1.DeploymentList{}
		if err := e.client.List(e.ctx, deployments, client.InNamespace(controlPlaneNamespace)); err != nil {
			add("listing Deployments: %v", err)
		}
		for _, d := range deployments.Items {
			if strings.HasPrefix(d.Name, "istiod") {
				add("Deployment %s is left", d.Name)
			}
		}
		for key, obj := range all {
			if obj.GetLabels()[meshv1alpha1.ManagedByLabel] == "meshkeeper" && strings.HasSuffix(key.gvr.Resource, "webhookconfigurations") {
				add("webhook configuration %s is left", obj.GetName())
			}
			if key.gvr.Resource == "namespaces" {
				for _, label := range meshkeeperLabels(obj) {
					if label == "istio-injection" || label == "istio.io/rev" {
						add("namespace %s keeps meshkeeper's label %s", obj.GetName(), label)
					}
				}
			}
		}
	}
	return v
}

// orphaned says why obj, marked as meshkeeper's or Helm's, belongs to nothing alive, or "".
func orphaned(obj *unstructured.Unstructured, mesh *meshv1alpha1.ServiceMesh, deployed map[string]bool) string {
	labels, annotations := obj.GetLabels(), obj.GetAnnotations()
	release := annotations["meta.helm.sh/release-name"]
	if labels[meshv1alpha1.ManagedByLabel] != "meshkeeper" && release == "" {
		return ""
	}
	if annotations["helm.sh/resource-policy"] == "keep" {
		return "" // the Istio CRDs outlive every mesh on purpose (docs/uninstall.md)
	}
	if release != "" && annotations["meta.helm.sh/release-namespace"] == controlPlaneNamespace && deployed[release] {
		return ""
	}
	for _, ref := range obj.GetOwnerReferences() {
		if mesh != nil && ref.UID == mesh.UID {
			return ""
		}
		if ref.Kind != "ServiceMesh" {
			return "" // what a controller derived from one of the objects (a ReplicaSet, an EndpointSlice) goes with it
		}
	}
	return fmt.Sprintf("marked as meshkeeper's (release %q) but owned by no deployed release and no live ServiceMesh", release)
}

// meshkeeperLabels lists the labels whose field manager is meshkeeper.
func meshkeeperLabels(obj *unstructured.Unstructured) []string {
	var labels []string
	for _, entry := range obj.GetManagedFields() {
		if entry.Manager != "meshkeeper" || entry.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Metadata struct {
				Labels map[string]any `json:"f:labels"`
			} `json:"f:metadata"`
		}
		if json.Unmarshal(entry.FieldsV1.GetRawBytes(), &fields) != nil {
			continue
		}
		for key := range fields.Metadata.Labels {
			labels = append(labels, strings.TrimPrefix(key, "f:"))
		}
	}
	slices.Sort(labels)
	return labels
}

type webhookService struct {
	webhook string
	key     types.NamespacedName
}

// webhookServices lists the Services every webhook of the cluster calls.
func (e *env) webhookServices() []webhookService {
	var services []webhookService
	mutating := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	if err := e.client.List(e.ctx, mutating); err == nil {
		for _, c := range mutating.Items {
			for _, w := range c.Webhooks {
				if s := w.ClientConfig.Service; s != nil {
					services = append(services, webhookService{"MutatingWebhookConfiguration " + c.Name, types.NamespacedName{Namespace: s.Namespace, Name: s.Name}})
				}
			}
		}
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := e.client.List(e.ctx, validating); err == nil {
		for _, c := range validating.Items {
			for _, w := range c.Webhooks {
				if s := w.ClientConfig.Service; s != nil {
					services = append(services, webhookService{"ValidatingWebhookConfiguration " + c.Name, types.NamespacedName{Namespace: s.Namespace, Name: s.Name}})
				}
			}
		}
	}
	return services
}

// objectKey names one object of any kind.
type objectKey struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
}

func (k objectKey) String() string {
	resource := k.gvr.Resource
	if k.gvr.Group != "" {
		resource += "." + k.gvr.Group
	}
	if k.namespace == "" {
		return resource + "/" + k.name
	}
	return resource + "/" + k.namespace + "/" + k.name
}

// listAll lists every object of every kind the API server can list, in each kind's preferred version.
func listAll(ctx context.Context) (map[objectKey]*unstructured.Unstructured, error) {
	config := sim.RESTConfig()
	config.WarningHandler = rest.NoWarnings{} // deprecated kinds (Endpoints, ComponentStatus) are listed on purpose
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	lists, err := disco.ServerPreferredResources()
	if err != nil {
		return nil, fmt.Errorf("discovering the API: %w", err)
	}
	all := map[objectKey]*unstructured.Unstructured{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			items, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", gvr, err)
			}
			for i := range items.Items {
				obj := &items.Items[i]
				all[objectKey{gvr: gvr, namespace: obj.GetNamespace(), name: obj.GetName()}] = obj
			}
		}
	}
	return all, nil
}
