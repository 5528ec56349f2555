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

package integration

import (
	"encoding/base64"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/chartrepo"
)

// The credentials of spec.charts.credentialsSecret, read from the API server as the manager reads
// them (around its cache), open a Helm repository and an OCI registry that require basic
// authentication; a missing or malformed Secret is an unreachable repository whose message names it.
var _ = Describe("Private chart repositories", Ordered, func() {
	const (
		user, password = "mesh", "pa55-w0rd"
		namespace      = "chart-credentials"
		version        = "1.30.3"
	)
	var (
		helmRepo *chartrepo.Repo
		registry *chartrepo.Registry
		istiod   chartrepo.Chart
	)

	BeforeAll(func() {
		base, err := chartrepo.Package(charts.Base, version)
		Expect(err).NotTo(HaveOccurred())
		istiod, err = chartrepo.Package(charts.Istiod, version)
		Expect(err).NotTo(HaveOccurred())
		helmRepo, err = chartrepo.ServeHTTPS(base, istiod)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(helmRepo.Close)
		helmRepo.RequireBasicAuth(user, password)
		registry, err = chartrepo.ServeOCI(base, istiod)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(registry.Close)
		registry.RequireBasicAuth(user, password)

		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
		dockerConfig := `{"auths":{"` + registry.Host() + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":"+password)) + `"}}}`
		for _, secret := range []*corev1.Secret{
			{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "https-creds"},
				Data: map[string][]byte{"username": []byte(user), "password": []byte(password)}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "oci-creds"}, Type: corev1.SecretTypeDockerConfigJson,
				Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(dockerConfig)}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "wrong-creds"},
				Data: map[string][]byte{"username": []byte(user), "password": []byte("not-it")}},
		} {
			Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		}
	})

	// repository picks the Helm repository or the OCI registry once they are serving.
	type repository func() string
	helm := func() string { return helmRepo.URL() }
	oci := func() string { return registry.URL() }

	DescribeTable("resolves charts with the Secret's credentials",
		func(repo repository, secret string, wantErr error, mention ...string) {
			resolver := &charts.CachingResolver{
				Fetcher: charts.RemoteFetcher{HTTPClient: chartrepo.TrustingClient(helmRepo, registry)},
				Secrets: k8sClient,
				Policy:  charts.Policy{Repositories: []string{helmRepo.URL(), registry.URL()}},
			}
			source := charts.Source{Repository: repo(), Version: version}
			if secret != "" {
				source.CredentialsSecret = types.NamespacedName{Namespace: namespace, Name: secret}
			}
			set, err := resolver.Resolve(ctx, source)
			if wantErr == nil {
				Expect(err).NotTo(HaveOccurred())
				Expect(set.Istiod).NotTo(BeNil())
				Expect(set.Istiod.Metadata.Name).To(Equal(istiod.Metadata.Name))
				Expect(set.Istiod.Metadata.Version).To(Equal(version))
				Expect(set.Istiod.Templates).NotTo(BeEmpty())
				Expect(set.IstiodDigest).To(Equal(istiod.Digest))
				return
			}
			Expect(err).To(MatchError(wantErr))
			// The two classes exclude each other: the controller retries one and not the other.
			Expect(err).NotTo(MatchError(charts.ErrChartNotFound))
			for _, s := range mention {
				Expect(err.Error()).To(ContainSubstring(s))
			}
			Expect(err.Error()).NotTo(ContainSubstring(password), "the error shows a password")
			Expect(err.Error()).NotTo(ContainSubstring("not-it"), "the error shows a password")
		},
		Entry("Helm repository with credentials", helm, "https-creds", nil),
		Entry("OCI registry with credentials", oci, "oci-creds", nil),
		Entry("Helm repository without", helm, "", charts.ErrRepositoryUnreachable, "401"),
		// oras reports the 401 or, having seen the registry's Basic challenge, the missing credential.
		Entry("OCI registry without", oci, "", charts.ErrRepositoryUnreachable),
		Entry("Helm repository, wrong password", helm, "wrong-creds", charts.ErrRepositoryUnreachable, "401"),
		Entry("a Secret that does not exist", helm, "missing", charts.ErrRepositoryUnreachable, namespace+"/missing"),
		Entry("OCI registry, a Secret without .dockerconfigjson", oci, "https-creds", charts.ErrRepositoryUnreachable, ".dockerconfigjson"),
		Entry("Helm repository, a Secret without username", helm, "oci-creds", charts.ErrRepositoryUnreachable, "username and password"),
	)
})
