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

package chartmanager

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// TestAHelmInstalledReleaseIsNotTakenOver: Istio installed with the helm CLI, as Istio's docs show,
// uses meshkeeper's release names in the same namespace. Its release has records none of which carry
// meshkeeper's digest; a ServiceMesh's install then once took it for an out-of-date release of its
// own and upgraded it: it checked only the objects the helm release lacked, put its owner on the
// others (so that deleting the ServiceMesh deleted that Istio), marked helm's records superseded or
// failed and pruned them. It now fails, naming the release, and changes nothing, deployed or pending.
func TestAHelmInstalledReleaseIsNotTakenOver(t *testing.T) {
	for _, status := range []rcommon.Status{rcommon.StatusDeployed, rcommon.StatusPendingUpgrade} {
		t.Run(string(status), func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			m, _, env := setUp(t)

			theirs := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: env.Namespace,
				Labels: map[string]string{"app": "istiod", "app.kubernetes.io/managed-by": "Helm"}}}
			g.Expect(env.Client.Create(ctx, theirs)).To(Succeed())
			chart, err := charts.Builtin(charts.Istiod)
			g.Expect(err).NotTo(HaveOccurred())
			records := driver.NewSecrets(kubernetes.NewForConfigOrDie(env.Config).CoreV1().Secrets(env.Namespace))
			now := time.Now()
			g.Expect(records.Create("sh.helm.release.v1.istiod.v1", &releasev1.Release{Name: "istiod", Namespace: env.Namespace, Version: 1,
				Chart: chart, Config: map[string]any{}, Info: &releasev1.Info{FirstDeployed: now, LastDeployed: now, Status: status},
				Manifest: "---\n# Source: istiod/templates/serviceaccount.yaml\napiVersion: v1\nkind: ServiceAccount\n" +
					"metadata:\n  name: istiod\n  namespace: " + env.Namespace + "\n"})).To(Succeed())

			_, err = m.Ensure(ctx, helm.Release{Name: "istiod", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
				Values: env.values(map[string]any{}), Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}})
			g.Expect(err).To(MatchError(ContainSubstring("release " + env.Namespace + "/istiod exists and was not installed by meshkeeper")))

			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(theirs), theirs)).To(Succeed())
			g.Expect(theirs.OwnerReferences).To(BeEmpty(), "helm's object was given meshkeeper's owner")
			g.Expect(theirs.Labels).NotTo(HaveKey(helm.ManagedByLabel))
			all, err := records.Query(map[string]string{"name": "istiod", "owner": "helm"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(all).To(HaveLen(1), "a record was added to, or pruned from, helm's release")
			record, ok := all[0].(*releasev1.Release)
			g.Expect(ok).To(BeTrue())
			g.Expect(record.Info.Status).To(Equal(status), "helm's record was marked otherwise")
		})
	}
}

// TestDriftRepairTakesNothingOver: an object of a release deleted and then created again by someone
// else under the same name (a GitOps tool, a user) is not meshkeeper's to restore: the caches, which
// hold only meshkeeper's labelled objects, show it as missing, and the repair once force-applied over
// it and gave it meshkeeper's owner, so that deleting the ServiceMesh deleted it. The repair now fails,
// naming it; an object of meshkeeper's whose label someone removed is still restored.
func TestDriftRepairTakesNothingOver(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, _, env := setUp(t)
	release := env.baseRelease(t, "uid-1")
	_, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())

	ours := &corev1.ServiceAccount{}
	key := client.ObjectKey{Namespace: env.Namespace, Name: "istio-reader-service-account"}
	g.Expect(env.Client.Get(ctx, key, ours)).To(Succeed())
	delete(ours.Labels, helm.ManagedByLabel)
	g.Expect(env.Client.Update(ctx, ours)).To(Succeed())
	result, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionRepaired), "meshkeeper's object without its label was not restored")
	g.Expect(env.Client.Get(ctx, key, ours)).To(Succeed())
	g.Expect(ours.Labels).To(HaveKeyWithValue(helm.ManagedByLabel, helm.ManagedByValue))

	g.Expect(env.Client.Delete(ctx, ours)).To(Succeed())
	theirs := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace, Name: key.Name,
		Labels: map[string]string{"installed-by": "someone-else"}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "their-registry"}}}
	g.Expect(env.Client.Create(ctx, theirs)).To(Succeed())
	_, err = m.Ensure(ctx, release)
	g.Expect(err).To(MatchError(ContainSubstring("ServiceAccount " + env.Namespace + "/istio-reader-service-account exists without meshkeeper's label")))
	g.Expect(env.Client.Get(ctx, key, theirs)).To(Succeed())
	g.Expect(theirs.OwnerReferences).To(BeEmpty(), "someone else's object was given meshkeeper's owner")
	g.Expect(theirs.Labels).To(Equal(map[string]string{"installed-by": "someone-else"}))
	g.Expect(theirs.ImagePullSecrets).To(Equal([]corev1.LocalObjectReference{{Name: "their-registry"}}))
}

// TestAFailedUpgradesObjectsAreNotLeftBehind: an upgrade that failed after applying some of its objects
// leaves them; the next upgrade replaces the revision deployed before it, and once deleted only what that
// revision had and the new one lacks. An object only the failed revision rendered was left for good:
// not deleted, not repaired (an autoscaler so left scales istiod against the replicas drift repair
// restores). It is deleted now, as helm upgrade --cleanup-on-fail would.
func TestAFailedUpgradesObjectsAreNotLeftBehind(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, counter, env := setUp(t)
	m, _, fail := cachedManager(ctx, t, env, counter)

	release := env.baseRelease(t, "uid-1")
	_, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())

	const policy, binding = "stable-channel-default-policy.istio.io", "stable-channel-default-policy-binding.istio.io"
	release.Values = env.values(map[string]any{"experimental": map[string]any{"stableValidationPolicy": true}})
	fail.Store("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/" + binding)
	_, err = m.Ensure(ctx, release)
	g.Expect(err).To(MatchError(ContainSubstring("forbidden")))
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: policy}, &admissionregistrationv1.ValidatingAdmissionPolicy{})).
		To(Succeed(), "the failed upgrade applied the policy before it failed")
	g.Expect(statuses(baseHistory(g, env))).To(Equal(map[int]string{1: "deployed", 2: "failed"}))

	release.Values = env.values(map[string]any{})
	result, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	err = env.Client.Get(ctx, client.ObjectKey{Name: policy}, &admissionregistrationv1.ValidatingAdmissionPolicy{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the failed upgrade's policy was left behind: %v", err)
}
