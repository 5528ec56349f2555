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

package controlplane

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/servicemesh"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// staleClient answers reads of the ServiceMesh with an old copy, as an informer cache does for a moment
// after the object changed; everything else goes to the real API server.
type staleClient struct {
	client.Client
	mesh *meshv1alpha1.ServiceMesh
}

func (c staleClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if mesh, ok := obj.(*meshv1alpha1.ServiceMesh); ok {
		c.mesh.DeepCopyInto(mesh)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// lagClient is a staleClient that also keeps the errors of its status writes.
type lagClient struct {
	staleClient
	statusErrs *[]error
}

func (c lagClient) Status() client.SubResourceWriter {
	return lagStatus{SubResourceWriter: c.staleClient.Status(), errs: c.statusErrs}
}

type lagStatus struct {
	client.SubResourceWriter
	errs *[]error
}

func (s lagStatus) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	err := s.SubResourceWriter.Apply(ctx, obj, opts...)
	*s.errs = append(*s.errs, err)
	return err
}

type noEvents struct{}

func (noEvents) Eventf(runtime.Object, runtime.Object, string, string, string, string, ...any) {}

// The name of a ServiceMesh is always "default", so a read that lags behind a delete and re-create
// describes another object than the one that exists. These specs hand the reconciler such reads.
var _ = Describe("A stale read of a deleted ServiceMesh", func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	staleReconciler := func(stale *meshv1alpha1.ServiceMesh) *servicemesh.Reconciler {
		return &servicemesh.Reconciler{
			Client:    staleClient{Client: k8sClient, mesh: stale},
			APIReader: k8sClient,
			Recorder:  noEvents{},
			Charts:    helm.NewChartManager(cfg, k8sClient, k8sClient),
			Resolver:  &charts.CachingResolver{},
		}
	}
	installed := func(ns string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
	}
	request := reconcile.Request{NamespacedName: client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}}

	It("never uninstalls the ServiceMesh that replaced it", func() {
		createMesh("  namespace: stale-old\n")
		installed("stale-old")
		old := getMesh()
		deleteMesh()
		deleting := old.DeepCopy()
		now := metav1.Now()
		deleting.DeletionTimestamp = &now
		createMesh("  namespace: stale-new\n")
		installed("stale-new")

		_, err := staleReconciler(deleting).Reconcile(ctx, request)
		Expect(err).NotTo(HaveOccurred())
		Consistently(func(g Gomega) {
			g.Expect(releaseRevisions("stale-new", "istiod")).To(Equal([]int{1}))
			g.Expect(releaseStatus("stale-new", "istiod", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(getMesh().UID).NotTo(Equal(old.UID))
		}, 2*time.Second, 200*time.Millisecond).Should(Succeed())
	})

	It("never brings a deleted ServiceMesh back", func() {
		createMesh("  namespace: stale-gone\n")
		installed("stale-gone")
		old := getMesh()
		withoutFinalizer := old.DeepCopy()
		withoutFinalizer.Finalizers = nil
		deleteMesh()

		_, err := staleReconciler(withoutFinalizer).Reconcile(ctx, request)
		Expect(err).To(HaveOccurred(), "adding a finalizer from a stale read must fail, not create")
		err = k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, &meshv1alpha1.ServiceMesh{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a ServiceMesh came back after its user deleted it")
	})

	It("works from its own status write while the cache shows the ServiceMesh before it", func() {
		createMesh("  namespace: stale-own\n")
		installed("stale-own")
		// The manager's own writes are in: the status describes this generation and stays put.
		var settled string
		Eventually(func(g Gomega) {
			mesh := getMesh()
			previous := settled
			settled = mesh.ResourceVersion
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(settled).To(Equal(previous), "the status still changes")
		}, installTimeout, 500*time.Millisecond).Should(Succeed())
		// Another writer leaves the status outdated, so the reconcile below writes it.
		outdated := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"observedGeneration": int64(0)}}}
		outdated.SetGroupVersionKind(meshv1alpha1.GroupVersion.WithKind("ServiceMesh"))
		outdated.SetName(meshv1alpha1.ServiceMeshName)
		Expect(k8sClient.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(outdated),
			client.FieldOwner("stale-test"), client.ForceOwnership)).To(Succeed())
		behind := getMesh()

		var statusErrs []error
		r := staleReconciler(behind)
		r.Client = lagClient{staleClient: staleClient{Client: k8sClient, mesh: behind}, statusErrs: &statusErrs}
		_, err := r.Reconcile(ctx, request)
		Expect(err).NotTo(HaveOccurred())
		Expect(statusErrs).To(HaveLen(1))
		Expect(statusErrs[0]).NotTo(HaveOccurred())
		written := getMesh()
		Expect(written.ResourceVersion).NotTo(Equal(behind.ResourceVersion))
		Expect(written.Status.ObservedGeneration).To(Equal(written.Generation))

		// The cache still holds the ServiceMesh as it was before that write: the next reconcile must
		// neither write the status again from it nor have a write refused.
		_, err = r.Reconcile(ctx, request)
		Expect(err).NotTo(HaveOccurred())
		Expect(statusErrs).To(HaveLen(1), "the reconcile wrote the status again from the outdated read: %v", statusErrs)
		Expect(getMesh().ResourceVersion).To(Equal(written.ResourceVersion))
	})
})
