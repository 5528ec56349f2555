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

// Package firstinstall tests the first reconcile of a new ServiceMesh with the manager as main.go
// configures it.
package firstinstall

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestFirstStatusDoesNotConflictWithTheFinalizer: the first reconcile of a new ServiceMesh adds the
// finalizer and then writes the status. The status is written against the resource version the
// finalizer's apply returned, not the one read before it: that write would conflict with meshkeeper's
// own and wait for a retry before the mesh could report anything.
func TestFirstStatusDoesNotConflictWithTheFinalizer(t *testing.T) {
	g := NewWithT(t)
	env := testenv.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// The answers to the status writes, in order.
	var (
		mu      sync.Mutex
		answers []int
	)
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return testenv.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if err == nil && req.Method == http.MethodPatch && strings.HasSuffix(req.URL.Path, "/servicemeshes/"+meshv1alpha1.ServiceMeshName+"/status") {
				mu.Lock()
				answers = append(answers, resp.StatusCode)
				mu.Unlock()
			}
			return resp, err
		})
	})
	g.Expect(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}})).To(Succeed())
	g.Expect(testenv.StartManager(ctx, cfg, io.Discard)).To(Succeed())

	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName},
		Spec: meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}}
	g.Expect(env.Client.Create(ctx, mesh)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
		g.Expect(mesh.Finalizers).To(ContainElement(meshv1alpha1.Finalizer))
		g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
	}, 2*time.Minute, 50*time.Millisecond).Should(Succeed())
	// The status can be read before the answer to its write has come back through the manager's client.
	g.Eventually(func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(answers)
	}, 10*time.Second, 10*time.Millisecond).ShouldNot(BeZero())
	mu.Lock()
	defer mu.Unlock()
	t.Logf("answers to the status writes: %v", answers)
	g.Expect(answers[0]).To(Equal(http.StatusOK), "the first status write conflicted with meshkeeper's own finalizer")
	// A later reconcile that reads the ServiceMesh from a cache one or two writes behind works from
	// meshkeeper's own writes, so no status write of meshkeeper's is refused.
	for i, code := range answers {
		g.Expect(code).To(Equal(http.StatusOK), "status write %d was refused", i+1)
	}
}
