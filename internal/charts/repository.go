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

package charts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"sigs.k8s.io/yaml"
)

const (
	// requestTimeout bounds each request when the caller's context has no deadline, so a repository
	// that accepts a connection and then stalls cannot hold a reconcile forever.
	requestTimeout = 30 * time.Second

	// The size limits keep a misbehaving repository from exhausting the manager's memory: everything
	// is held in memory because the manager's root filesystem is read-only. The Istio charts are a
	// few hundred KiB packed and their index a few MiB.
	maxIndexBytes    = 32 << 20
	maxArchiveBytes  = 20 << 20
	maxManifestBytes = 4 << 20

	userAgent = "meshkeeper"
)

// RemoteFetcher fetches charts from Helm repositories (https://…, with an index.yaml) and OCI
// registries (oci://…). It works in memory only and without credentials: it never reads or writes
// Helm's repository or registry configuration, its caches, or Docker's credential stores, so that
// what a ServiceMesh installs depends on its spec alone, and the manager can run with a read-only
// root filesystem.
//
// Every error it returns wraps ErrChartNotFound or ErrRepositoryUnreachable. ErrChartNotFound means
// the repository answered and has no chart of that name and version, which waiting will not change.
// Everything else wraps ErrRepositoryUnreachable: no answer (network, TLS, timeout), a refusal
// (authentication, a status other than success), or an answer that cannot be used (not a repository,
// a malformed index or manifest, a digest that does not match, a chart other than the one asked for).
type RemoteFetcher struct {
	// HTTPClient makes every request. Nil means a client with Go's default transport: the system's
	// trusted roots and the proxy from the environment. Tests set one that trusts their own CA.
	HTTPClient *http.Client
}

var _ Fetcher = RemoteFetcher{}

// Fetch implements Fetcher. The digest is the chart archive's ("sha256:<hex>" for any archive Helm
// packaged), so a chart published both to a Helm repository and to an OCI registry has the same
// digest in both.
func (f RemoteFetcher) Fetch(ctx context.Context, repository, name, version string) (*chartv2.Chart, string, error) {
	var (
		archive []byte
		digest  string
		err     error
	)
	switch {
	case strings.HasPrefix(repository, "https://"):
		archive, digest, err = f.fetchFromHelmRepository(ctx, repository, name, version)
	case strings.HasPrefix(repository, "oci://"):
		archive, digest, err = f.fetchFromRegistry(ctx, repository, name, version)
	default:
		err = fmt.Errorf("%w: %q is neither a Helm repository (https://…) nor an OCI registry (oci://…)",
			ErrRepositoryUnreachable, repository)
	}
	if err != nil {
		return nil, "", err
	}
	chart, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s serves %s %s as an archive that is not a valid chart: %w",
			ErrRepositoryUnreachable, repository, name, version, err)
	}
	// The archive, not the index or manifest that pointed to it, says what chart it is.
	if chart.Metadata.Name != name || chart.Metadata.Version != version {
		return nil, "", fmt.Errorf("%w: %s serves chart %s %s where %s %s was asked for",
			ErrRepositoryUnreachable, repository, chart.Metadata.Name, chart.Metadata.Version, name, version)
	}
	return chart, digest, nil
}

func (f RemoteFetcher) httpClient() *http.Client {
	if f.HTTPClient != nil {
		return f.HTTPClient
	}
	return &http.Client{}
}

// withDefaultTimeout bounds a request by requestTimeout unless the caller already bounded it.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, requestTimeout)
}

// fetchFromHelmRepository finds name at exactly version in the repository's index and downloads the
// archive the index points to. It reads the index itself rather than through Helm's ChartRepository,
// which writes the index into a cache directory, and it matches the version exactly: Helm's
// IndexFile.Get falls back to semver ranges, which would let "1.30" install whatever 1.30.x is newest.
func (f RemoteFetcher) fetchFromHelmRepository(ctx context.Context, repository, name, version string) ([]byte, string, error) {
	indexURL, err := repo.ResolveReferenceURL(repository, "index.yaml")
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q is not a valid URL: %w", ErrRepositoryUnreachable, repository, err)
	}
	data, status, err := f.get(ctx, indexURL, maxIndexBytes)
	if err != nil {
		return nil, "", fmt.Errorf("%w: fetching the index of Helm repository %s: %w", ErrRepositoryUnreachable, repository, err)
	}
	if status != http.StatusOK {
		// A missing index.yaml means the URL is not a Helm repository (a mistyped path, say). That
		// does not say the chart does not exist, so it is not ErrChartNotFound.
		return nil, "", fmt.Errorf("%w: %s is not a Helm repository: GET %s: %d %s",
			ErrRepositoryUnreachable, repository, indexURL, status, http.StatusText(status))
	}
	index, err := parseIndex(data)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the index of Helm repository %s is malformed: %w", ErrRepositoryUnreachable, repository, err)
	}

	versions, ok := index.Entries[name]
	if !ok || len(versions) == 0 {
		return nil, "", fmt.Errorf("%w: Helm repository %s has no chart %s (version %s asked for)",
			ErrChartNotFound, repository, name, version)
	}
	var entry *repo.ChartVersion
	for _, cv := range versions {
		if cv != nil && cv.Metadata != nil && cv.Version == version {
			entry = cv
			break
		}
	}
	if entry == nil {
		return nil, "", fmt.Errorf("%w: Helm repository %s has chart %s but not version %s",
			ErrChartNotFound, repository, name, version)
	}
	if len(entry.URLs) == 0 {
		return nil, "", fmt.Errorf("%w: the index of Helm repository %s lists %s %s without a download URL",
			ErrRepositoryUnreachable, repository, name, version)
	}

	// Relative URLs are relative to the repository URL, as Helm resolves them.
	archiveURL, err := repo.ResolveReferenceURL(repository, entry.URLs[0])
	if err != nil {
		return nil, "", fmt.Errorf("%w: the index of Helm repository %s has an invalid URL for %s %s: %w",
			ErrRepositoryUnreachable, repository, name, version, err)
	}
	archive, status, err := f.get(ctx, archiveURL, maxArchiveBytes)
	if err != nil {
		return nil, "", fmt.Errorf("%w: downloading %s %s from %s: %w", ErrRepositoryUnreachable, name, version, repository, err)
	}
	if status != http.StatusOK {
		// The index lists the chart, so a missing archive is a broken repository, not a missing chart.
		return nil, "", fmt.Errorf("%w: downloading %s %s from %s: GET %s: %d %s",
			ErrRepositoryUnreachable, name, version, repository, archiveURL, status, http.StatusText(status))
	}

	sum := sha256.Sum256(archive)
	actual := hex.EncodeToString(sum[:])
	if entry.Digest != "" {
		expected, err := sha256Hex(entry.Digest)
		if err != nil {
			return nil, "", fmt.Errorf("%w: the index of Helm repository %s has digest %q for %s %s: %w",
				ErrRepositoryUnreachable, repository, entry.Digest, name, version, err)
		}
		if expected != actual {
			return nil, "", fmt.Errorf("%w: digest mismatch for %s %s from %s: the index says sha256:%s, the archive at %s is sha256:%s",
				ErrRepositoryUnreachable, name, version, repository, expected, archiveURL, actual)
		}
	}
	return archive, "sha256:" + actual, nil
}

// get downloads url. A status other than 200 is returned, not an error, for the caller to say what it
// means; a body longer than limit is an error.
func (f RemoteFetcher) get(ctx context.Context, url string, limit int64) ([]byte, int, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := f.httpClient().Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", url, err)
	}
	if int64(len(data)) > limit {
		return nil, 0, fmt.Errorf("%s is larger than %d MiB", url, limit>>20)
	}
	return data, resp.StatusCode, nil
}

// parseIndex reads an index.yaml the way Helm does (JSON, or YAML that has only the fields Helm
// knows), keeping it in memory.
func parseIndex(data []byte) (*repo.IndexFile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, repo.ErrEmptyIndexYaml
	}
	index := &repo.IndexFile{}
	var err error
	if json.Valid(data) {
		err = json.Unmarshal(data, index)
	} else {
		err = yaml.UnmarshalStrict(data, index)
	}
	if err != nil {
		return nil, err
	}
	if index.APIVersion == "" {
		return nil, repo.ErrNoAPIVersion
	}
	return index, nil
}

// sha256Hex is the hex of an index digest, which Helm writes bare and other tools prefix with
// "sha256:". Other algorithms cannot be checked, and an archive that cannot be checked is not used.
func sha256Hex(digest string) (string, error) {
	d := strings.ToLower(strings.TrimPrefix(digest, "sha256:"))
	if _, err := hex.DecodeString(d); err != nil || len(d) != sha256.Size*2 {
		return "", errors.New("not a sha256 digest")
	}
	return d, nil
}

// fetchFromRegistry pulls name:version from the OCI registry repository, where Helm pushes a chart
// (`helm push chart.tgz oci://host/path`) as host/path/<name>:<version>.
//
// It talks to the registry through oras-go, the library under Helm's registry client, because that
// client reads Helm's and Docker's credential stores and takes no context; anonymous pulls, with the
// bearer-token exchange public registries ask for, need neither.
func (f RemoteFetcher) fetchFromRegistry(ctx context.Context, repository, name, version string) ([]byte, string, error) {
	path := strings.TrimSuffix(strings.TrimPrefix(repository, "oci://"), "/")
	// OCI tags cannot hold '+', so Helm pushes semver build metadata with '_' instead.
	tag := strings.ReplaceAll(version, "+", "_")
	ref := path + "/" + name + ":" + tag
	target, err := remote.NewRepository(ref)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s/%s:%s is not a valid OCI reference: %w", ErrRepositoryUnreachable, repository, name, tag, err)
	}
	authClient := &auth.Client{Client: f.httpClient(), Cache: auth.NewCache()}
	authClient.SetUserAgent(userAgent)
	target.Client = authClient

	manifestCtx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	manifestDesc, data, err := oras.FetchBytes(manifestCtx, target, tag,
		oras.FetchBytesOptions{MaxBytes: maxManifestBytes})
	if err != nil {
		if isNotFound(err) {
			return nil, "", fmt.Errorf("%w: OCI registry %s has no chart %s version %s: %w",
				ErrChartNotFound, repository, name, version, err)
		}
		return nil, "", fmt.Errorf("%w: fetching %s from OCI registry %s: %w", ErrRepositoryUnreachable, ref, repository, err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(data, &manifest); err != nil {
		return nil, "", fmt.Errorf("%w: the manifest of %s (%s) is malformed: %w", ErrRepositoryUnreachable, ref, manifestDesc.Digest, err)
	}
	var layer *ocispec.Descriptor
	for i := range manifest.Layers {
		switch manifest.Layers[i].MediaType {
		case registry.ChartLayerMediaType, registry.LegacyChartLayerMediaType:
			layer = &manifest.Layers[i]
		}
	}
	if layer == nil {
		return nil, "", fmt.Errorf("%w: %s (%s) is not a Helm chart: its manifest has no layer of media type %s",
			ErrRepositoryUnreachable, ref, manifestDesc.Digest, registry.ChartLayerMediaType)
	}
	if layer.Size > maxArchiveBytes {
		return nil, "", fmt.Errorf("%w: the chart layer of %s is %d bytes, more than %d MiB",
			ErrRepositoryUnreachable, ref, layer.Size, maxArchiveBytes>>20)
	}

	blobCtx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	// FetchAll checks the layer's size and digest, so the digest returned is the content's.
	archive, err := content.FetchAll(blobCtx, target.Blobs(), *layer)
	if err != nil {
		// The manifest names the layer, so a missing layer is a broken registry, not a missing chart.
		return nil, "", fmt.Errorf("%w: downloading the chart layer %s of %s: %w", ErrRepositoryUnreachable, layer.Digest, ref, err)
	}
	return archive, layer.Digest.String(), nil
}

// isNotFound tells a registry's "no such repository or tag" (a 404, which oras reports as
// errdef.ErrNotFound) from every other failure. Registries that hide private repositories answer 401
// or 403 instead; those stay "unreachable", since a missing credential is something to fix, not a
// version to change.
func isNotFound(err error) bool {
	return errors.Is(err, errdef.ErrNotFound)
}
