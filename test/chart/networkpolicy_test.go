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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestChartsRightsInstallIstiodsNetworkPolicy: the chart guard admits a NetworkPolicy in the release
// namespace (docs/security.md, rule 2), because the istiod chart renders one with
// spec.values.global.networkPolicy.enabled. The manager, running with exactly the chart's rights, must
// then be able to apply it: otherwise every install and upgrade of istiod with that value fails as
// forbidden.
func TestChartsRightsInstallIstiodsNetworkPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := testenv.Start(t, testenv.WithoutCRDs())
	c := env.Client
	installCRDs(ctx, t, c)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: defaultNamespace}}); err != nil {
		t.Fatal(err)
	}
	objects := render(t, nil, defaultRelease, defaultNamespace)
	for _, u := range objects {
		if u.GetKind() == "ServiceMonitor" || u.GetKind() == "PrometheusRule" {
			continue
		}
		if err := c.Create(ctx, u, client.FieldOwner(fieldManager)); err != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}

	// The manager, authenticated as the chart's ServiceAccount.
	config := rest.CopyConfig(env.Config)
	config.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + defaultNamespace + ":" + objects.fullname(),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + defaultNamespace, "system:authenticated"},
	}
	log := &testenv.SyncBuffer{}
	managerCtx, stopManager := context.WithCancel(ctx)
	defer stopManager()
	if err := testenv.StartManager(managerCtx, config, log, controllers.Options{Policy: charts.Policy{Namespaces: []string{"istio-system"}}}); err != nil {
		t.Fatal(err)
	}

	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
			Values: &meshv1alpha1.IstiodValues{Raw: []byte(`{"global": {"networkPolicy": {"enabled": true}}}`)}}}
	if err := c.Create(ctx, mesh); err != nil {
		t.Fatal(err)
	}
	deployed := func() []string {
		list := &corev1.SecretList{}
		if err := c.List(ctx, list, client.InNamespace("istio-system"), client.MatchingLabels{"owner": "helm", "status": "deployed"}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Labels["name"])
		}
		slices.Sort(names)
		return names
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "istiod"}, &appsv1.Deployment{}); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		err := c.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "istiod"}, &networkingv1.NetworkPolicy{})
		return err == nil && slices.Contains(deployed(), "istiod"), client.IgnoreNotFound(err)
	}); err != nil {
		got := &meshv1alpha1.ServiceMesh{}
		_ = c.Get(ctx, client.ObjectKey{Name: "default"}, got)
		ready := ""
		for _, cond := range got.Status.Conditions {
			if cond.Type == meshv1alpha1.ConditionReady {
				ready = cond.Reason + ": " + cond.Message
			}
		}
		t.Fatalf("istiod with its NetworkPolicy was not installed with the chart's rights (Ready %s): %v\n%s",
			ready, err, grepLines(log.String(), "forbidden"))
	}
	if strings.Contains(log.String(), "forbidden") {
		t.Errorf("the manager was refused a request with the chart's rights:\n%s", grepLines(log.String(), "forbidden"))
	}
}
