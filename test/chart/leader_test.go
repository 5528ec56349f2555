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
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestLeaderElectionWithTheChartsRole runs leader election as main.go sets it up (the same Lease, in the
// release namespace, released on shutdown), authenticated as the chart's ServiceAccount with only the
// chart's leader-election Role: a first manager creates the Lease and leads, releases it when it stops,
// and a second one takes the released Lease over and leads. The Role grants get, create and update on
// Leases and nothing else (TestLeaderElectionRoleGrantsWhatTheLockUses).
func TestLeaderElectionWithTheChartsRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := testenv.Start(t, testenv.WithoutCRDs())
	c := env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: defaultNamespace}}); err != nil {
		t.Fatal(err)
	}
	objects := render(t, nil, defaultRelease, defaultNamespace)
	for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding"} {
		name := objects.fullname()
		if kind != "ServiceAccount" {
			name += "-leader-election"
		}
		if err := c.Create(ctx, objects.get(t, kind, name), client.FieldOwner(fieldManager)); err != nil {
			t.Fatalf("creating %s %s: %v", kind, name, err)
		}
	}
	config := asChartServiceAccount(env.Config, objects)
	lease := &coordinationv1.Lease{}
	leaseKey := client.ObjectKey{Namespace: defaultNamespace, Name: "meshkeeper.mesh.meshkeeper.io"}

	lead := func(identity string) {
		t.Helper()
		leaseDuration, renewDeadline, retryPeriod := 4*time.Second, 3*time.Second, 500*time.Millisecond
		mgr, err := ctrl.NewManager(config, ctrl.Options{
			Metrics:                       metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress:        "0",
			LeaderElection:                true,
			LeaderElectionID:              leaseKey.Name,
			LeaderElectionNamespace:       defaultNamespace,
			LeaseDuration:                 &leaseDuration,
			RenewDeadline:                 &renewDeadline,
			RetryPeriod:                   &retryPeriod,
			LeaderElectionReleaseOnCancel: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		mgrCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- mgr.Start(mgrCtx) }()
		select {
		case <-mgr.Elected():
		case err := <-done:
			t.Fatalf("%s stopped before it led: %v", identity, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not lead within 30s with the chart's role", identity)
		}
		if err := c.Get(ctx, leaseKey, lease); err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			t.Fatalf("%s leads, but the Lease (%v) names no holder: %+v", identity, err, lease.Spec)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatalf("%s stopped with: %v", identity, err)
		}
		if err := c.Get(ctx, leaseKey, lease); err != nil {
			t.Fatal(err)
		}
		if holder := lease.Spec.HolderIdentity; holder != nil && *holder != "" {
			t.Fatalf("%s stopped, but the Lease still names %s: it was not released", identity, *holder)
		}
	}
	lead("the first manager")
	lead("the second manager")
}
