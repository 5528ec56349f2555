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
	"encoding/json"
	"strings"

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

	// A set is kept for the credentials it was fetched with. Once the repository gave it for one
	// Secret's, a source whose Secret is another one with credentials the repository refuses, a Secret
	// rotated to such credentials, no Secret or a Secret gone, does not get it from the cache: the
	// repository is asked with what the Secret now holds, and refuses.
	DescribeTable("serves a cached set only for the credentials it was fetched with",
		func(repo repository, secret string) {
			resolver := &charts.CachingResolver{
				Fetcher: charts.RemoteFetcher{HTTPClient: chartrepo.TrustingClient(helmRepo, registry)},
				Secrets: k8sClient,
				Policy:  charts.Policy{Repositories: []string{helmRepo.URL(), registry.URL()}},
			}
			server := chartrepo.Server(helmRepo)
			if repo() == registry.URL() {
				server = registry
			}
			// A Secret of this entry's own, with the Secret secret's data, to rotate and delete.
			original := &corev1.Secret{}
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: namespace, Name: secret}, original)).To(Succeed())
			rotating := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: "rotating-"},
				Type: original.Type, Data: original.Data}
			Expect(k8sClient.Create(ctx, rotating)).To(Succeed())
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, rotating) })
			resolve := func(secret string) error {
				source := charts.Source{Repository: repo(), Version: version}
				if secret != "" {
					source.CredentialsSecret = types.NamespacedName{Namespace: namespace, Name: secret}
				}
				_, err := resolver.Resolve(ctx, source)
				return err
			}

			Expect(resolve(rotating.Name)).To(Succeed())
			asked := server.Requests()
			Expect(resolve(rotating.Name)).To(Succeed())
			Expect(resolve(secret)).To(Succeed())
			Expect(server.Requests()).To(Equal(asked), "the same credentials, from the same Secret or another, are served from the cache")

			By("another Secret with credentials the repository refuses")
			wrong := wrongCredentials(original)
			other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: "other-"},
				Type: original.Type, Data: wrong}
			Expect(k8sClient.Create(ctx, other)).To(Succeed())
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, other) })
			Expect(resolve(other.Name)).To(MatchError(charts.ErrRepositoryUnreachable))

			By("no Secret")
			Expect(resolve("")).To(MatchError(charts.ErrRepositoryUnreachable))

			By("the Secret rotated to credentials the repository refuses")
			rotating.Data = wrong
			Expect(k8sClient.Update(ctx, rotating)).To(Succeed())
			err := resolve(rotating.Name)
			Expect(err).To(MatchError(charts.ErrRepositoryUnreachable))
			Expect(err.Error()).NotTo(ContainSubstring(password), "the error shows a password")

			By("the Secret deleted")
			Expect(k8sClient.Delete(ctx, rotating)).To(Succeed())
			Expect(resolve(rotating.Name)).To(MatchError(ContainSubstring(namespace + "/" + rotating.Name)))

			By("the Secret back with the credentials the set was fetched with")
			back := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: rotating.Name},
				Type: original.Type, Data: original.Data}
			Expect(k8sClient.Create(ctx, back)).To(Succeed())
			DeferCleanup(func() { _ = k8sClient.Delete(ctx, back) })
			asked = server.Requests()
			Expect(resolve(back.Name)).To(Succeed())
			Expect(server.Requests()).To(Equal(asked), "the set fetched with these credentials is still cached")
		},
		Entry("Helm repository", helm, "https-creds"),
		Entry("OCI registry", oci, "oci-creds"),
	)
})

// wrongCredentials is the data of a credentials Secret like secret's, for the same user, with another
// password.
func wrongCredentials(secret *corev1.Secret) map[string][]byte {
	if config, ok := secret.Data[corev1.DockerConfigJsonKey]; ok {
		var parsed struct {
			Auths map[string]map[string]string `json:"auths"`
		}
		Expect(json.Unmarshal(config, &parsed)).To(Succeed())
		for host, entry := range parsed.Auths {
			decoded, err := base64.StdEncoding.DecodeString(entry["auth"])
			Expect(err).NotTo(HaveOccurred())
			user, _, _ := strings.Cut(string(decoded), ":")
			parsed.Auths[host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":not-it"))}
		}
		data, err := json.Marshal(parsed)
		Expect(err).NotTo(HaveOccurred())
		return map[string][]byte{corev1.DockerConfigJsonKey: data}
	}
	return map[string][]byte{"username": secret.Data["username"], "password": []byte("not-it")}
}
