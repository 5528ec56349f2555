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
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestManagerRunsWithTheChartsRights runs meshkeeper's manager as the chart's ServiceAccount (the API
// server authorizes every request by the chart's ClusterRoles), with the namespaces the chart's
// Deployment passes to --control-plane-namespaces: a ServiceMesh in a namespace outside them is refused
// before anything is written, and one in istio-system is installed and uninstalled with exactly the
// chart's rights.
func TestManagerRunsWithTheChartsRights(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := testenv.Start(t, testenv.WithoutCRDs())
	c := env.Client
	installCRDs(ctx, t, c)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: defaultNamespace}}); err != nil {
		t.Fatal(err)
	}
	objects := render(t, nil, defaultRelease, defaultNamespace)
	var namespaces []string
	for _, u := range objects {
		if u.GetKind() == "ServiceMonitor" || u.GetKind() == "PrometheusRule" {
			continue
		}
		if u.GetKind() == "Deployment" {
			deploy := as[appsv1.Deployment](t, u)
			for _, arg := range deploy.Spec.Template.Spec.Containers[0].Args {
				if list, ok := strings.CutPrefix(arg, "--control-plane-namespaces="); ok {
					namespaces = charts.ParseList(list)
				}
			}
		}
		if err := c.Create(ctx, u, client.FieldOwner(fieldManager)); err != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	if len(namespaces) != 1 || namespaces[0] != "istio-system" {
		t.Fatalf("the chart's Deployment passes --control-plane-namespaces %v, want [istio-system] by default", namespaces)
	}

	// The manager, authenticated as the chart's ServiceAccount.
	config := asChartServiceAccount(env.Config, objects)
	log := &testenv.SyncBuffer{}
	managerCtx, stopManager := context.WithCancel(ctx)
	defer stopManager()
	if err := testenv.StartManager(managerCtx, config, log, controllers.Options{Policy: charts.Policy{Namespaces: namespaces}}); err != nil {
		t.Fatal(err)
	}
	dump := func() string { return testenv.TailLines(log.String(), 30) }

	mesh := func(namespace string) *meshv1alpha1.ServiceMesh {
		return &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default"},
			Spec: meshv1alpha1.ServiceMeshSpec{Namespace: namespace}}
	}
	ready := func() (*metav1.Condition, error) {
		got := &meshv1alpha1.ServiceMesh{}
		if err := c.Get(ctx, client.ObjectKey{Name: "default"}, got); err != nil {
			return nil, err
		}
		for i := range got.Status.Conditions {
			if got.Status.Conditions[i].Type == meshv1alpha1.ConditionReady {
				return &got.Status.Conditions[i], nil
			}
		}
		return nil, nil
	}
	releaseSecrets := func(namespace string) int {
		list := &corev1.SecretList{}
		if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{"owner": "helm"}); err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	deployedReleases := func(namespace string) []string {
		list := &corev1.SecretList{}
		if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{"owner": "helm", "status": "deployed"}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Labels["name"])
		}
		slices.Sort(names)
		return names
	}
	gone := func() {
		t.Helper()
		if err := c.Delete(ctx, mesh("")); err != nil {
			t.Fatal(err)
		}
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, client.ObjectKey{Name: "default"}, &meshv1alpha1.ServiceMesh{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		}); err != nil {
			t.Fatalf("the ServiceMesh was not uninstalled with the chart's rights: %v\n%s", err, dump())
		}
	}

	t.Log("a control plane in a namespace the installer did not allow, enrolling a namespace with a pod")
	// The status pass judges the pods of enrolled namespaces against the mesh config of spec.namespace,
	// which the manager's cache does not hold when the installer did not allow it.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "app"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}}); err != nil {
		t.Fatal(err)
	}
	refused := mesh("team-a")
	refused.Spec.Injection.Namespaces = []string{"shop"}
	if err := c.Create(ctx, refused); err != nil {
		t.Fatal(err)
	}
	var last *metav1.Condition
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		cond, err := ready()
		last = cond
		if err != nil || cond == nil || cond.Reason != meshv1alpha1.ReasonNamespaceNotAllowed {
			return false, err
		}
		// A status pass after shop's enrollment: it counted shop's pod.
		got := &meshv1alpha1.ServiceMesh{}
		err = c.Get(ctx, client.ObjectKey{Name: "default"}, got)
		return err == nil && got.Status.Namespaces.Enrolled == 1 && got.Status.Proxies.Total == 1, err
	}); err != nil {
		t.Fatalf("Ready is %+v, want reason %s: %v\n%s", last, meshv1alpha1.ReasonNamespaceNotAllowed, err, dump())
	}
	if last.Status != metav1.ConditionFalse || !strings.Contains(last.Message, "--control-plane-namespaces") ||
		!strings.Contains(last.Message, "team-a") {
		t.Errorf("Ready: %s %q, want False naming team-a and --control-plane-namespaces", last.Status, last.Message)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "team-a"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace team-a was created for a refused control plane (%v)", err)
	}
	if n := releaseSecrets(""); n != 0 {
		t.Errorf("%d Helm release Secrets were written for a refused control plane", n)
	}
	if strings.Contains(log.String(), "Reconciler error") {
		t.Errorf("a reconcile failed while the control plane was refused:\n%s", grepLines(log.String(), "Reconciler error"))
	}
	gone()

	t.Log("a control plane in istio-system, installed and uninstalled as the chart's ServiceAccount")
	// With istiod's NetworkPolicy, which the chart guard admits in the release namespace: the chart's
	// rights must cover every kind the guard lets istiod's chart render, or its install fails as forbidden.
	installed := mesh("istio-system")
	installed.Spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"global": {"networkPolicy": {"enabled": true}}}`)}
	if err := c.Create(ctx, installed); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		// A new mesh's CNI agent (enabled by default) is installed alongside the control plane: three
		// releases, each deployed.
		err := c.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "istiod"}, &appsv1.Deployment{})
		if err == nil {
			err = c.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "istiod"}, &networkingv1.NetworkPolicy{})
		}
		return err == nil && slices.Equal(deployedReleases("istio-system"), []string{"istio-base", "istio-cni", "istiod"}), client.IgnoreNotFound(err)
	}); err != nil {
		cond, _ := ready()
		t.Fatalf("istiod was not installed with the chart's rights (Ready: %+v): %v\n%s", cond, err, dump())
	}
	gone()
	if n := releaseSecrets("istio-system"); n != 0 {
		t.Errorf("%d Helm release Secrets left after the uninstall", n)
	}
	if strings.Contains(log.String(), "forbidden") {
		t.Errorf("the manager was refused a request with the chart's rights:\n%s", grepLines(log.String(), "forbidden"))
	}
}

// grepLines is the lines of s that contain word.
func grepLines(s, word string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, word) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// asChartServiceAccount is config authenticated as the ServiceAccount of the chart release objects
// renders in defaultNamespace: the API server authorizes its requests by the chart's roles alone.
func asChartServiceAccount(config *rest.Config, objects objectList) *rest.Config {
	config = rest.CopyConfig(config)
	config.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + defaultNamespace + ":" + objects.fullname(),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + defaultNamespace, "system:authenticated"},
	}
	return config
}
