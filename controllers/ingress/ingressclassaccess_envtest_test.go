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

package ingress

import (
	"os"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/meshkeeper/meshkeeper/test/testenv/server"
)

// The package's tests that need an API server share one kube-apiserver and etcd (server.Shared). (The
// test tiers' testenv cannot be used here: it imports the controllers, which import this package; its
// server package can.) envtest's API server authorizes with RBAC, as a cluster's does.
var apiServer = server.NewShared(clientgoscheme.AddToScheme)

func TestMain(m *testing.M) { os.Exit(apiServer.Main(m)) }

// TestIngressClassesForbiddenOnAnAPIServer: the API server's RBAC answers for the controller's service
// account. It may list IngressClasses when a ClusterRoleBinding grants it to the account by name, or to
// the service accounts of its namespace as a group; it may not with no grant, nor with a Role of its
// namespace alone (the ingress-nginx chart's rbac.scope): IngressClasses are cluster-scoped. meshkeeper,
// refused the question itself, takes the controller as allowed.
func TestIngressClassesForbiddenOnAnAPIServer(t *testing.T) {
	shared := apiServer.Get(t)
	c := shared.Client
	ctx := t.Context()
	create := func(obj client.Object) {
		t.Helper()
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
	namespace := func() string {
		t.Helper()
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ingclass-"}}
		create(ns)
		return ns.Name
	}
	edge, others := namespace(), namespace()
	readers := []rbacv1.PolicyRule{{APIGroups: []string{networkingv1.GroupName}, Resources: []string{"ingressclasses"}, Verbs: []string{"get", "list", "watch"}}}
	create(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: edge}, Rules: readers})
	bind := func(name string, subject rbacv1.Subject) {
		t.Helper()
		create(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: edge}, Subjects: []rbacv1.Subject{subject}})
	}
	bind(edge+"-by-name", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: edge, Name: "by-name"})
	bind(edge+"-by-group", rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:serviceaccounts:" + others})
	create(&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: edge, Name: "ingressclasses"}, Rules: readers})
	create(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: edge, Name: "ingressclasses"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "ingressclasses"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: edge, Name: "namespaced"}}})

	template := func(account string) *corev1.PodTemplateSpec {
		return &corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: account,
			Containers: []corev1.Container{{Name: "controller", Args: []string{"/nginx-ingress-controller"}}}}}
	}
	// The API server's authorizer reads RBAC objects from its watch: a grant counts shortly after it was
	// written. Each allowed answer is awaited; the bindings and the Role were all written before, and the
	// Role is seen (an account's question in its namespace) before the denied answers are taken.
	await := func(what string, answer func() (bool, error)) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			ok, err := answer()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not so after a minute", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	allowed := func(ns, account string) func() (bool, error) {
		return func() (bool, error) {
			forbidden, err := ingressClassesForbidden(ctx, c, ns, template(account))
			return !forbidden, err
		}
	}
	await("the account bound by name may list IngressClasses", allowed(edge, "by-name"))
	await("an account of the namespace bound as a group may list IngressClasses", allowed(others, "any"))
	await("the Role lets its account list IngressClasses in its namespace", func() (bool, error) {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "system:serviceaccount:" + edge + ":namespaced", ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: edge, Verb: "list", Group: networkingv1.GroupName, Version: "v1", Resource: "ingressclasses"}}}
		err := c.Create(ctx, review)
		return review.Status.Allowed, err
	})
	for _, account := range []string{"namespaced", "unbound"} {
		if forbidden, err := ingressClassesForbidden(ctx, c, edge, template(account)); !forbidden || err != nil {
			t.Errorf("account %s: ingressClassesForbidden() = %v, %v; want true, nil", account, forbidden, err)
		}
	}

	// meshkeeper without the right to ask.
	user, err := shared.Env.AddUser(envtest.User{Name: "without-reviews"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	refused, err := client.New(user.Config(), client.Options{Scheme: shared.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if forbidden, err := ingressClassesForbidden(ctx, refused, edge, template("unbound")); forbidden || err != nil {
		t.Errorf("asked by a user that may not ask: ingressClassesForbidden() = %v, %v; want false, nil", forbidden, err)
	}
}
