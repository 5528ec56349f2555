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
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// TestClusterKept: only what the cluster and istiod put in every namespace, or what is already going,
// lets meshkeeper delete the control-plane namespace; istiod's CA and anything of a user's keep it.
func TestClusterKept(t *testing.T) {
	now := metav1.Now()
	meta := func(name string, annotations map[string]string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	}
	going := meta("istiod-abc", nil)
	going.DeletionTimestamp = &now
	secret, serviceAccount, configMap := corev1.SchemeGroupVersion.WithKind("Secret").GroupKind(),
		corev1.SchemeGroupVersion.WithKind("ServiceAccount").GroupKind(), corev1.SchemeGroupVersion.WithKind("ConfigMap").GroupKind()
	tests := map[string]struct {
		kind schema.GroupKind
		obj  *metav1.PartialObjectMetadata
		want bool
	}{
		"istiod's CA":                     {secret, meta("istio-ca-secret", nil), false},
		"a user's cacerts":                {secret, meta("cacerts", nil), false},
		"the default account's token":     {secret, meta("default-token-x", map[string]string{corev1.ServiceAccountNameKey: "default"}), true},
		"another account's token":         {secret, meta("app-token-x", map[string]string{corev1.ServiceAccountNameKey: "app"}), false},
		"the default ServiceAccount":      {serviceAccount, meta("default", nil), true},
		"a user's ServiceAccount":         {serviceAccount, meta("app", nil), false},
		"the cluster's root CA ConfigMap": {configMap, meta("kube-root-ca.crt", nil), true},
		"istiod's root cert ConfigMap":    {configMap, meta("istio-ca-root-cert", nil), true},
		"a leader-election ConfigMap":     {configMap, meta("istio-leader", map[string]string{"control-plane.alpha.kubernetes.io/leader": "{}"}), true},
		"a user's ConfigMap":              {configMap, meta("settings", nil), false},
		"a user's Deployment":             {schema.GroupKind{Group: "apps", Kind: "Deployment"}, meta("default", nil), false},
		"another group's ConfigMap":       {schema.GroupKind{Group: "example.com", Kind: "ConfigMap"}, meta("kube-root-ca.crt", nil), false},
		"a Role named default":            {schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "Role"}, meta("default", nil), false},
		"an object already being deleted": {schema.GroupKind{Kind: "Service"}, going, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := clusterKept(tc.kind, tc.obj); got != tc.want {
				t.Errorf("clusterKept(%s %s) = %v, want %v", tc.kind, tc.obj.Name, got, tc.want)
			}
		})
	}
}

func TestDescribeKept(t *testing.T) {
	if got, want := describeKept([]string{"Secret/a", "Secret/b"}), "Secret/a, Secret/b"; got != want {
		t.Errorf("describeKept = %q, want %q", got, want)
	}
	seven := []string{"S/1", "S/2", "S/3", "S/4", "S/5", "S/6", "S/7"}
	if got, want := describeKept(seven), "S/1, S/2, S/3, S/4, S/5 and 2 more"; got != want {
		t.Errorf("describeKept = %q, want %q", got, want)
	}
}

// TestCreatedByMeshkeeper: the namespace is meshkeeper's only when the entry of meshkeeper's create holds
// the created-by label and dates from the creation (to the second either way, as the API server stamps
// them); a label written later under meshkeeper's name, or by an apply, is not meshkeeper's creation.
func TestCreatedByMeshkeeper(t *testing.T) {
	created := metav1.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	labelFields := metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{".":{},"f:mesh.meshkeeper.io/created-by":{}}}}`)
	otherFields := metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{".":{},"f:team":{}}}}`)
	entry := func(op metav1.ManagedFieldsOperationType, after time.Duration, fields *metav1.FieldsV1) metav1.ManagedFieldsEntry {
		at := metav1.NewTime(created.Add(after))
		return metav1.ManagedFieldsEntry{Manager: "meshkeeper", Operation: op, APIVersion: "v1", Time: &at,
			FieldsType: "FieldsV1", FieldsV1: fields}
	}
	tests := map[string]struct {
		label   string
		entries []metav1.ManagedFieldsEntry
		want    bool
	}{
		"created by meshkeeper":           {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, 0, labelFields)}, true},
		"entry stamped a second before":   {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, -time.Second, labelFields)}, true},
		"labelled two seconds later":      {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, 2*time.Second, labelFields)}, false},
		"labelled by an apply":            {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationApply, 0, labelFields)}, false},
		"meshkeeper's entry, other label": {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, 0, otherFields)}, false},
		"label of another value":          {"someone", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, 0, labelFields)}, false},
		"no entry of meshkeeper's":        {"meshkeeper", nil, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system", CreationTimestamp: created,
				Labels: map[string]string{createdNamespaceLabel: tc.label}, ManagedFields: tc.entries}}
			if got := createdByMeshkeeper(ns); got != tc.want {
				t.Errorf("createdByMeshkeeper = %v, want %v", got, tc.want)
			}
		})
	}
}

// fakeResourceDiscovery serves fixed resource lists, and a failure (a group that did not answer) with
// them.
type fakeResourceDiscovery struct {
	lists []*metav1.APIResourceList
	err   error
}

func (d fakeResourceDiscovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return d.lists, d.err
}

func (fakeResourceDiscovery) ServerVersion() (*version.Info, error) {
	return &version.Info{Major: "1", Minor: "37"}, nil
}

// servedLists are the resources of a small cluster, as discovery lists them: namespaced and
// cluster-scoped ones, subresources, one that cannot be listed, what the cluster records about other
// objects, and a metrics API.
func servedLists() []*metav1.APIResourceList {
	listable := []string{"get", "list", "watch", "create", "delete"}
	res := func(name, kind string, namespaced bool, verbs ...string) metav1.APIResource {
		return metav1.APIResource{Name: name, Kind: kind, Namespaced: namespaced, Verbs: verbs}
	}
	return []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			res("bindings", "Binding", true, "create"),
			res("configmaps", "ConfigMap", true, listable...),
			res("endpoints", "Endpoints", true, listable...),
			res("events", "Event", true, listable...),
			res("namespaces", "Namespace", false, listable...),
			res("nodes", "Node", false, listable...),
			res("persistentvolumeclaims", "PersistentVolumeClaim", true, listable...),
			res("pods", "Pod", true, listable...),
			res("pods/status", "Pod", true, "get", "patch", "update"),
			res("secrets", "Secret", true, listable...),
			res("serviceaccounts", "ServiceAccount", true, listable...),
			res("serviceaccounts/token", "TokenRequest", true, "create"),
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			res("controllerrevisions", "ControllerRevision", true, listable...),
			res("daemonsets", "DaemonSet", true, listable...),
			res("deployments", "Deployment", true, listable...),
			res("replicasets", "ReplicaSet", true, listable...),
		}},
		{GroupVersion: "discovery.k8s.io/v1", APIResources: []metav1.APIResource{res("endpointslices", "EndpointSlice", true, listable...)}},
		{GroupVersion: "batch/v1", APIResources: []metav1.APIResource{res("jobs", "Job", true, listable...)}},
		{GroupVersion: "coordination.k8s.io/v1", APIResources: []metav1.APIResource{res("leases", "Lease", true, listable...)}},
		{GroupVersion: "metrics.k8s.io/v1beta1", APIResources: []metav1.APIResource{res("pods", "PodMetrics", true, "get", "list")}},
		{GroupVersion: "networking.k8s.io/v1", APIResources: []metav1.APIResource{res("networkpolicies", "NetworkPolicy", true, listable...)}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			res("clusterroles", "ClusterRole", false, listable...),
			res("roles", "Role", true, listable...),
		}},
	}
}

// TestLeftInNamespace: before deleting the namespace it created, meshkeeper looks in every namespaced
// resource discovery serves. Anything of a user's, of any kind, keeps the namespace, and so does a
// resource it may not list or a group discovery could not reach; what the cluster keeps in every
// namespace, what it records about other objects, and what the garbage collector deletes with an owner
// that is gone do not.
func TestLeftInNamespace(t *testing.T) {
	const ns = "istio-system"
	meshUID := types.UID("mesh-uid")
	now := metav1.Now()
	owned := func(obj client.Object, apiVersion, kind, name string, uid types.UID) client.Object {
		obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid}})
		return obj
	}
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	// What the cluster, istiod and the uninstall leave, none of which keeps the namespace.
	clusterOnly := []client.Object{
		&corev1.ConfigMap{ObjectMeta: om("kube-root-ca.crt")},
		&corev1.ConfigMap{ObjectMeta: om("istio-ca-root-cert")},
		&corev1.ServiceAccount{ObjectMeta: om("default")},
		&discoveryv1.EndpointSlice{ObjectMeta: om("istiod-8xk2p"), AddressType: discoveryv1.AddressTypeIPv4},
		&corev1.Event{ObjectMeta: om("istiod.1")},
		&coordinationv1.Lease{ObjectMeta: om("istio-gateway-deployment-default")},
		// istiod's Deployment, deleted in the background: its ReplicaSet and pod until the garbage collector comes.
		owned(&appsv1.ReplicaSet{ObjectMeta: om("istiod-5d4f")}, "apps/v1", "Deployment", "istiod", "gone"),
		owned(&corev1.Pod{ObjectMeta: om("istiod-5d4f-x2")}, "apps/v1", "ReplicaSet", "istiod-5d4f", "rs"),
		// An object of meshkeeper's, owned by the ServiceMesh being deleted.
		owned(&corev1.ConfigMap{ObjectMeta: om("istio")}, "mesh.meshkeeper.io/v1alpha1", "ServiceMesh", "default", meshUID),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "going", DeletionTimestamp: &now, Finalizers: []string{"example.com/hold"}}},
		// A user's objects elsewhere.
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "reader"}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "backup"}},
	}
	transient := apierrors.NewTimeoutError("the list took too long", 1)
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "batch", Resource: "jobs"}, "", errors.New("no rule allows it"))
	tests := map[string]struct {
		objects       []client.Object
		discovery     discovery.ServerVersionInterface
		listErr       map[string]error // by the list's kind
		wantObjects   []string
		wantUnchecked []string
		wantErr       bool
	}{
		"only what the cluster keeps": {
			objects: clusterOnly,
		},
		"a user's objects of any kind": {
			objects: append(slices.Clone(clusterOnly),
				&corev1.PersistentVolumeClaim{ObjectMeta: om("data")},
				&rbacv1.Role{ObjectMeta: om("mesh-reader")},
				&networkingv1.NetworkPolicy{ObjectMeta: om("deny-all")},
				&batchv1.Job{ObjectMeta: om("rotate")}),
			wantObjects: []string{"PersistentVolumeClaim/data", "Job.batch/rotate", "NetworkPolicy.networking.k8s.io/deny-all",
				"Role.rbac.authorization.k8s.io/mesh-reader"},
		},
		"a user's Deployment, named without its ReplicaSets and pods": {
			objects: append(slices.Clone(clusterOnly),
				&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cert-agent", UID: "deploy"}},
				owned(&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cert-agent-7c", UID: "rs2"}}, "apps/v1", "Deployment", "cert-agent", "deploy"),
				owned(&corev1.Pod{ObjectMeta: om("cert-agent-7c-q")}, "apps/v1", "ReplicaSet", "cert-agent-7c", "rs2")),
			wantObjects: []string{"Deployment.apps/cert-agent"},
		},
		"objects whose owner is not in the namespace, or is kept in every namespace": {
			objects: append(slices.Clone(clusterOnly),
				owned(&corev1.ConfigMap{ObjectMeta: om("node-config")}, "v1", "Node", "node-1", "node"),
				owned(&corev1.Secret{ObjectMeta: om("token")}, "v1", "ServiceAccount", "default", "sa"),
				owned(&corev1.Secret{ObjectMeta: om("plugin")}, "example.com/v1", "Plugin", "p", "p")),
			wantObjects: []string{"ConfigMap/node-config", "Secret/plugin", "Secret/token"},
		},
		"a resource meshkeeper may not list": {
			objects:       clusterOnly,
			listErr:       map[string]error{"JobList": forbidden},
			wantUnchecked: []string{"jobs.batch"},
		},
		"a group discovery could not reach, and a metrics API that is down": {
			objects: clusterOnly,
			discovery: fakeResourceDiscovery{lists: servedLists(), err: &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
				{Group: "example.com", Version: "v1"}:         errors.New("the server is currently unable to handle the request"),
				{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("the server is currently unable to handle the request"),
			}}},
			wantUnchecked: []string{"the kinds of example.com/v1"},
		},
		"no discovery": {
			objects:       clusterOnly,
			discovery:     (*fakeNoResources)(nil),
			wantUnchecked: []string{"any kind (no discovery client)"},
		},
		"a list that fails for now": {
			objects: clusterOnly,
			listErr: map[string]error{"RoleList": transient},
			wantErr: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			if err := clientgoscheme.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.objects...).
				WithInterceptorFuncs(interceptor.Funcs{
					List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
						if err := tc.listErr[list.GetObjectKind().GroupVersionKind().Kind]; err != nil {
							return err
						}
						return c.List(ctx, list, opts...)
					},
				}).Build()
			r := &Reconciler{Client: c, APIReader: c}
			r.revisionState.discovery = fakeResourceDiscovery{lists: servedLists()}
			if tc.discovery != nil {
				r.revisionState.discovery = tc.discovery
			}
			left, err := r.leftInNamespace(t.Context(), meshUID, ns)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "roles.rbac.authorization.k8s.io") {
					t.Errorf("leftInNamespace error = %v, want the failed list of roles", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(left.objects)
			slices.Sort(tc.wantObjects)
			if !slices.Equal(left.objects, tc.wantObjects) {
				t.Errorf("objects left = %q, want %q", left.objects, tc.wantObjects)
			}
			if !slices.Equal(left.unchecked, tc.wantUnchecked) {
				t.Errorf("resources not looked into = %q, want %q", left.unchecked, tc.wantUnchecked)
			}
			if got, want := left.empty(), len(tc.wantObjects) == 0 && len(tc.wantUnchecked) == 0; got != want {
				t.Errorf("empty() = %v, want %v", got, want)
			}
		})
	}
}

// fakeNoResources is a discovery client that tells the server's version only.
type fakeNoResources struct{}

func (*fakeNoResources) ServerVersion() (*version.Info, error) {
	return &version.Info{Major: "1", Minor: "37"}, nil
}

func TestLeftoverString(t *testing.T) {
	tests := map[string]struct {
		left leftover
		want string
	}{
		"objects": {leftover{objects: []string{"Secret/istio-ca-secret"}}, "it still holds Secret/istio-ca-secret"},
		"resources not looked into": {leftover{unchecked: []string{"jobs.batch", "limitranges"}},
			"meshkeeper could not look in it for jobs.batch, limitranges (it may not list them, or their API did not answer)"},
		"both": {leftover{objects: []string{"Role.rbac.authorization.k8s.io/reader"}, unchecked: []string{"jobs.batch"}},
			"it still holds Role.rbac.authorization.k8s.io/reader, and meshkeeper could not look in it for jobs.batch (it may not list them, or their API did not answer)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.left.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}
