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

package restart_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// TestARepairedMeshConfigRestartsNothing: someone edits the mesh config ConfigMap and drift repair puts
// meshkeeper's mesh config back. The API server moves the time of meshkeeper's managed-fields entry
// with the repair, after every pod of the mesh was created; yet those pods were injected with the mesh
// config that is there again. With automatic restarts, none of their workloads may be restarted. A real
// change of the mesh config by meshkeeper still restarts them.
func TestARepairedMeshConfigRestartsNothing(t *testing.T) {
	g := NewWithT(t)
	env := apiServer
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := env.Client

	name := unique("mc")
	cp, ns := name+"-system", name+"-shop"
	g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cp}})).To(Succeed())
	createRunningMesh(ctx, t, g, c, cp, ns, nil)

	// The mesh config as the chart manager writes it: an apply of meshkeeper's field manager.
	applyMeshConfig := func(mesh string) {
		t.Helper()
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "istio", "namespace": cp},
			"data":     map[string]any{"mesh": mesh, "meshNetworks": "networks: {}"}}}
		g.Expect(c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(meshv1alpha1.FieldManager),
			client.ForceOwnership)).To(Succeed())
	}
	meshkeeperTime := func() time.Time {
		t.Helper()
		cm := &corev1.ConfigMap{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: cp, Name: "istio"}, cm)).To(Succeed())
		for _, e := range cm.ManagedFields {
			if e.Manager == meshv1alpha1.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply {
				return e.Time.Time
			}
		}
		t.Fatal("the mesh config carries no apply of meshkeeper's")
		return time.Time{}
	}
	// What the status pass does with each mesh config it judges pods against.
	record := func() meshv1alpha1.MeshConfigStatus {
		t.Helper()
		mesh := &meshv1alpha1.ServiceMesh{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
		config, err := meshctx.MeshConfig(ctx, c, charts.Policy{}, cp, "istio", mesh.Status.MeshConfigs)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(config.Digest).NotTo(BeEmpty(), "meshkeeper's own mesh config is recorded")
		mesh.Status.MeshConfigs = []meshv1alpha1.MeshConfigStatus{config}
		g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
		return config
	}

	const original = "defaultConfig:\n  proxyMetadata:\n    ISTIO_DELTA_XDS: \"true\"\n"
	applyMeshConfig(original)
	first := record()
	time.Sleep(time.Second) // the pods are created a second after the mesh config

	// A workload whose one pod was injected with that mesh config.
	app := createRolledOut(ctx, g, c, ns, "app", "")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	createPod(ctx, g, c, app, "app-injected", true)
	pod := &corev1.Pod{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-injected"}, pod)).To(Succeed())

	workloads := startWorkloadCache(ctx, g, env)
	r := &restart.Reconciler{Client: c, Workloads: workloads, Recorder: events.NewFakeRecorder(100), Report: restart.NewReport()}
	restartedAt := func() string {
		t.Helper()
		_, err := r.Reconcile(ctx, ctrl.Request{})
		g.Expect(err).NotTo(HaveOccurred())
		d := &appsv1.Deployment{}
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(app), d)).To(Succeed())
		return d.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation]
	}
	g.Expect(restartedAt()).To(BeEmpty(), "the pod runs the current sidecar")

	t.Log("an edit of the mesh config, undone by drift repair a second after the pod was created")
	time.Sleep(time.Second)
	cm := &corev1.ConfigMap{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: cp, Name: "istio"}, cm)).To(Succeed())
	cm.Data["mesh"] = "defaultConfig: {}\n"
	g.Expect(c.Update(ctx, cm)).To(Succeed())
	edited, err := meshctx.MeshConfig(ctx, c, charts.Policy{}, cp, "istio", []meshv1alpha1.MeshConfigStatus{first})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(edited).To(Equal(first), "while someone else's edit is in place, the record stands")
	applyMeshConfig(original)
	g.Expect(meshkeeperTime().After(pod.CreationTimestamp.Time)).To(BeTrue(),
		"the repair moved meshkeeper's managed-fields time past the pod's creation")

	g.Expect(record()).To(Equal(first), "the repaired mesh config is the one recorded, since the same time")
	g.Expect(restartedAt()).To(BeEmpty(), "a repaired edit of the mesh config restarted a workload whose pod runs it")

	t.Log("a real change of the mesh config by meshkeeper")
	applyMeshConfig("defaultConfig:\n  proxyMetadata:\n    ISTIO_DELTA_XDS: \"false\"\n")
	changed := record()
	g.Expect(changed.Digest).NotTo(Equal(first.Digest))
	g.Expect(changed.Since.Time).To(Equal(meshkeeperTime()))
	g.Expect(restartedAt()).NotTo(BeEmpty(), "the pod was injected before the mesh config changed")
}
