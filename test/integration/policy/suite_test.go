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

package policy_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/controllers/servicemesh"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// apiServer is the API server the package's tests share, one after the other: a server per test cost
// each test seconds of CPU to start. Each test starts from what a new server holds all the same (start).
var apiServer *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, func(s *testenv.Suite) { apiServer = testenv.Start(s) }))
}

// managers are the managers of the test that runs (run): it ends once they have stopped, so that none
// writes into the next test's state.
var managers sync.WaitGroup

// start returns the package's API server as a new one would be for t (reset): no ServiceMesh, no
// policy CRD, no namespace but the server's own, no Event; with a client of t's own, whose REST mapper
// has mapped nothing yet, and a context cancelled when t ends, after which t waits for its managers.
func start(t *testing.T, g Gomega) (*testenv.Env, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		managers.Wait()
	})
	g.Expect(reset(ctx, apiServer)).To(Succeed(), "resetting the API server for the test")
	env := *apiServer
	var err error
	env.Client, err = client.New(env.Config, client.Options{Scheme: env.Scheme})
	g.Expect(err).NotTo(HaveOccurred())
	return &env, ctx
}

// run runs mgr until ctx ends; the test waits for it to stop as it ends (start).
func run(ctx context.Context, mgr ctrl.Manager) {
	managers.Add(1)
	go func() {
		defer managers.Done()
		_ = mgr.Start(ctx)
	}()
}

// createNamespaces creates the namespaces names, without labels or annotations.
func createNamespaces(ctx context.Context, g Gomega, c client.Client, names ...string) {
	for _, name := range names {
		g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	}
}

// createMesh creates the ServiceMesh "default" with spec, the YAML of its spec indented by two spaces,
// and returns it.
func createMesh(ctx context.Context, g Gomega, c client.Client, spec string) *meshv1alpha1.ServiceMesh {
	mesh := &meshv1alpha1.ServiceMesh{}
	g.Expect(yamlInto("apiVersion: mesh.meshkeeper.io/v1alpha1\nkind: ServiceMesh\nmetadata: {name: default}\nspec:\n"+spec, mesh)).To(Succeed())
	g.Expect(c.Create(ctx, mesh)).To(Succeed())
	return mesh
}

// runPolicy sets r up with mgr and runs mgr until ctx ends (run): the policy controller alone. r's
// Client, APIReader and Recorder, when not set, are mgr's client, API reader and meshkeeper's recorder.
func runPolicy(ctx context.Context, g Gomega, mgr ctrl.Manager, r *policy.Reconciler) {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("meshkeeper")
	}
	g.Expect(r.SetupWithManager(mgr)).To(Succeed())
	run(ctx, mgr)
}

// runPolicyAndMesh runs a manager on config with the policy and ServiceMesh controllers as the manager
// sets them up (one wait for the policy kinds, on discovery), chartManager the ServiceMesh's, until ctx
// ends (run).
func runPolicyAndMesh(ctx context.Context, g Gomega, env *testenv.Env, config *rest.Config, chartManager servicemesh.ChartManager) {
	mgr := newManager(g, env, config)
	served, err := meshctx.NewKindsServedFor(mgr, render.PolicyKinds)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mgr.Add(served)).To(Succeed())
	recorder := mgr.GetEventRecorder("meshkeeper")
	g.Expect((&policy.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder,
		Served: served}).SetupWithManager(mgr)).To(Succeed())
	g.Expect((&servicemesh.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder,
		Charts: chartManager, Resolver: &charts.CachingResolver{}, PoliciesServed: served}).SetupWithManager(mgr)).To(Succeed())
	run(ctx, mgr)
}

// policyResources are the resources of the policy CRDs (istioCRDs).
var policyResources = []schema.GroupVersionResource{
	{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"},
	{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"},
}

// reset deletes what the tests before left on env: the ServiceMesh, the policy CRDs and with them every
// policy object, the namespaces the tests created and what they hold, and the Events of the server's
// own namespaces. Finalizers go first: no controller that would honour them runs now. It waits until
// discovery no longer serves the policy kinds, as on a new server.
func reset(ctx context.Context, env *testenv.Env) error {
	c := env.Client
	meshes := &meshv1alpha1.ServiceMeshList{}
	if err := c.List(ctx, meshes); err != nil {
		return err
	}
	for i := range meshes.Items {
		mesh := &meshes.Items[i]
		if err := c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))); client.IgnoreNotFound(err) != nil {
			return err
		}
		if err := c.Delete(ctx, mesh); client.IgnoreNotFound(err) != nil {
			return err
		}
		if err := gone(ctx, c, mesh); err != nil {
			return err
		}
	}

	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		return err
	}
	for _, resource := range policyResources {
		crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: resource.Resource + "." + resource.Group}}
		if err := c.Get(ctx, client.ObjectKeyFromObject(crd), crd); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		objects, err := dyn.Resource(resource).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, o := range objects.Items {
			if len(o.GetFinalizers()) == 0 {
				continue
			}
			_, err := dyn.Resource(resource).Namespace(o.GetNamespace()).Patch(ctx, o.GetName(), types.MergePatchType,
				[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
			if client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		if err := c.Delete(ctx, crd); client.IgnoreNotFound(err) != nil {
			return err
		}
		if err := gone(ctx, c, crd); err != nil {
			return err
		}
	}
	disco, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		return err
	}
	for _, resource := range policyResources {
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			_, err := disco.ServerResourcesForGroupVersion(resource.GroupVersion().String())
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
		if err != nil {
			return fmt.Errorf("discovery still serves %s: %w", resource.GroupVersion(), err)
		}
	}

	namespaces := &corev1.NamespaceList{}
	if err := c.List(ctx, namespaces); err != nil {
		return err
	}
	for _, ns := range namespaces.Items {
		if slices.Contains(testenv.ServerNamespaces, ns.Name) {
			if err := c.DeleteAllOf(ctx, &eventsv1.Event{}, client.InNamespace(ns.Name)); err != nil {
				return err
			}
			continue
		}
		if err := env.DeleteNamespace(ctx, ns.Name); err != nil {
			return err
		}
	}
	return nil
}

// gone waits until obj is gone.
func gone(ctx context.Context, c client.Client, obj client.Object) error {
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if err != nil {
		return fmt.Errorf("%T %s is not gone: %w", obj, obj.GetName(), err)
	}
	return nil
}
