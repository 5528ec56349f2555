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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
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
	maxIndexBytes = 32 << 20
	// maxIndexNodes bounds the nodes of an index, as indexNodes counts them, because its size in bytes
	// does not bound what parsing it costs: the YAML parser spends hundreds of bytes on every node,
	// and a node takes as little as two bytes of text ("[a,a,…]"), so a hostile index of a few MiB
	// would take gigabytes. A real index takes a few dozen nodes per chart version (some 35 as `helm
	// repo index` writes one): this allows some 15,000 versions, about 8 MiB of such an index.
	maxIndexNodes    = 1 << 19
	maxArchiveBytes  = 20 << 20
	maxManifestBytes = 4 << 20
	// maxChartBytes bounds a chart once decompressed, so a small archive that inflates to gigabytes
	// (a gzip bomb) is refused before Helm's loader holds it in memory.
	maxChartBytes = 64 << 20
	// maxChartNodes bounds the nodes, as indexNodes counts them, of the files of a chart that Helm's
	// loader parses (loadedAsYAML), its subcharts' included, for the reason maxIndexNodes bounds an
	// index's: loading a few MiB of values made of short nodes takes gigabytes, some 400 bytes a node.
	// Istio's istiod chart, the largest, counts about a thousand (its values.yaml and Chart.yaml); this
	// allows sixty times as many, and costs some 25 MiB to load.
	maxChartNodes = 1 << 16

	userAgent = "meshkeeper"

	// The media types of a chart's layer in an OCI registry: Helm's, and the one older Helm 3
	// versions pushed.
	chartLayerMediaType       = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	legacyChartLayerMediaType = "application/tar+gzip"
)

// RemoteFetcher fetches charts from Helm repositories (https://…, with an index.yaml) and OCI
// registries (oci://…). It works in memory only, with no credentials but those it is given: it never
// reads or writes Helm's repository or registry configuration, its caches, or Docker's credential
// stores, so that what a ServiceMesh installs depends on its spec alone, and the manager can run with
// a read-only root filesystem.
//
// What it trusts of a repository is bounded: it follows no redirect away from https, downloads no
// archive an index lists over plain http, installs no archive whose digest the index does not state,
// bounds every response and every decompressed chart, sends credentials only to the repository's own
// host, and prints URLs without their user information.
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
func (f RemoteFetcher) Fetch(ctx context.Context, repository, name, version string, credentials Credentials) (*chartv2.Chart, string, error) {
	var (
		archive []byte
		digest  string
		err     error
	)
	shown := RedactURL(repository)
	switch {
	case strings.HasPrefix(repository, "https://"):
		archive, digest, err = f.fetchFromHelmRepository(ctx, repository, name, version, credentials)
	case strings.HasPrefix(repository, "oci://"):
		archive, digest, err = f.fetchFromRegistry(ctx, repository, name, version, credentials)
	default:
		err = fmt.Errorf("%w: %q is neither a Helm repository (https://…) nor an OCI registry (oci://…)",
			ErrRepositoryUnreachable, shown)
	}
	if err != nil {
		return nil, "", err
	}
	if err := checkDecompressedSize(archive, maxChartBytes, maxChartNodes); err != nil {
		return nil, "", fmt.Errorf("%w: %s serves %s %s as an archive that is refused: %w",
			ErrRepositoryUnreachable, shown, name, version, err)
	}
	chart, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s serves %s %s as an archive that is not a valid chart: %w",
			ErrRepositoryUnreachable, shown, name, version, err)
	}
	// The archive, not the index or manifest that pointed to it, says what chart it is.
	if chart.Metadata.Name != name || chart.Metadata.Version != version {
		return nil, "", fmt.Errorf("%w: %s serves chart %s %s where %s %s was asked for",
			ErrRepositoryUnreachable, shown, chart.Metadata.Name, chart.Metadata.Version, name, version)
	}
	return chart, digest, nil
}

// checkDecompressedSize refuses a gzip archive that inflates to more than limit bytes, counting the
// archives it holds in turn: Helm's loader decompresses a subchart packed as charts/<name>.tgz too,
// each to a bound of its own, so a chart of a few KiB that packs a few gzip bombs as subcharts would
// otherwise fill the manager's memory while its own decompressed size stays small. Any file that is a
// gzip stream counts, whatever its name.
//
// It also refuses an archive whose files that Helm's loader parses (loadedAsYAML), in the archive and
// in those it holds, have more than nodeLimit nodes in all, as indexNodes counts them: what parsing
// them costs grows with their nodes, which their size in bytes does not bound.
func checkDecompressedSize(archive []byte, limit int64, nodeLimit int) error {
	r, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("not a gzip archive: %w", err)
	}
	b := &inflateBudget{bytes: limit, nodes: nodeLimit}
	err = inflateWithin(r, b, "", 0)
	if errors.Is(err, errDecompressedTooLarge) {
		return fmt.Errorf("it decompresses to more than %d MiB", limit>>20)
	}
	if errors.Is(err, errTooManyNodes) {
		return fmt.Errorf("its YAML and JSON files have more than %d Ki nodes in all, more than a chart's values hold: %s brings them beyond it",
			nodeLimit>>10, b.file)
	}
	return err
}

// maxArchiveDepth bounds how deep archives nest in a chart, subcharts in subcharts: a level beyond
// it is not counted, so it is refused.
const maxArchiveDepth = 8

var (
	// errDecompressedTooLarge is what a read beyond the budget of checkDecompressedSize fails with.
	errDecompressedTooLarge = errors.New("decompressed size beyond the bound")
	errArchivesTooDeep      = fmt.Errorf("it nests archives more than %d deep", maxArchiveDepth)
	// errTooManyNodes is what inflateWithin fails with once the files it counts the nodes of have
	// spent its budget.
	errTooManyNodes = errors.New("YAML nodes beyond the bound")
)

// inflateBudget is what checkDecompressedSize allows an archive: the bytes it may decompress to and
// the nodes of the files Helm's loader parses. file is the one that spent the nodes.
type inflateBudget struct {
	bytes int64
	nodes int
	file  string
}

// spendNodes draws the nodes counted of the file named name from the budget, and fails with
// errTooManyNodes, naming that file, once it is spent.
func (b *inflateBudget) spendNodes(name string, nodes *nodeCounter) error {
	if b.nodes -= nodes.count(); b.nodes < 0 {
		b.file = name
		return errTooManyNodes
	}
	return nil
}

// loadedAsYAML tells the files Helm's loader parses as YAML (JSON included) when it loads a chart, or,
// values.schema.json, when it renders one, by their name in a tar: these names in the chart's
// directory and in its subcharts'. Any file of such a name counts, wherever it is, so that no way of
// writing a path (backslashes, "." and ".." elements) the loader reads differently escapes the count.
// Templates are parsed only once rendered, one at a time, and are not counted.
func loadedAsYAML(name string) bool {
	switch path.Base(path.Clean(strings.ReplaceAll(name, "\\", "/"))) {
	case "Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json", "requirements.yaml", "requirements.lock":
		return true
	}
	return false
}

// inflateWithin reads the gzip stream r to its end, and every gzip stream its tar holds, drawing what
// it decompresses from b.bytes and the nodes of the files Helm's loader parses from b.nodes. within names
// the archive r is in (" in <path>", "" for the chart's own), to name a file in errors. A tar that cannot be read is only counted:
// Helm's loader reports it, or, in a file of the chart it does not unpack, ignores it.
func inflateWithin(r *gzip.Reader, b *inflateBudget, within string, depth int) error {
	inflated := &budgetReader{r: r, remaining: &b.bytes}
	tr := tar.NewReader(inflated)
	for {
		header, err := tr.Next()
		if err != nil {
			break
		}
		magic := make([]byte, 2)
		n, err := io.ReadFull(tr, magic)
		if errors.Is(err, errDecompressedTooLarge) {
			return err
		}
		if n < len(magic) || magic[0] != 0x1f || magic[1] != 0x8b {
			if !loadedAsYAML(header.Name) {
				continue
			}
			// The file is read as it is counted: only its bytes are drawn from the budget, not held.
			nodes := &nodeCounter{}
			_, _ = nodes.Write(magic[:n])
			if _, err := io.Copy(nodes, tr); errors.Is(err, errDecompressedTooLarge) {
				return err
			}
			if err := b.spendNodes(header.Name+within, nodes); err != nil {
				return err
			}
			continue
		}
		if depth == maxArchiveDepth {
			return errArchivesTooDeep
		}
		// The file's bytes already came out of the budget, so what is held here is bounded by it.
		rest, err := io.ReadAll(tr)
		if err != nil {
			if errors.Is(err, errDecompressedTooLarge) {
				return err
			}
			break
		}
		if loadedAsYAML(header.Name) {
			// Helm's loader parses a file of such a name as it is, gzip or not.
			nodes := &nodeCounter{}
			_, _ = nodes.Write(magic)
			_, _ = nodes.Write(rest)
			if err := b.spendNodes(header.Name+within, nodes); err != nil {
				return err
			}
		}
		nested, err := gzip.NewReader(io.MultiReader(bytes.NewReader(magic), bytes.NewReader(rest)))
		if err != nil {
			continue
		}
		// A file that is not a readable gzip stream is not a subchart Helm can load: the loader reports
		// it, if it unpacks it at all.
		err = inflateWithin(nested, b, " in "+header.Name+within, depth+1)
		if errors.Is(err, errDecompressedTooLarge) || errors.Is(err, errArchivesTooDeep) || errors.Is(err, errTooManyNodes) {
			return err
		}
	}
	// What follows the tar's end counts too: Helm's loader stops there, but gzip does not.
	if _, err := io.Copy(io.Discard, inflated); err != nil {
		if errors.Is(err, errDecompressedTooLarge) {
			return err
		}
		return fmt.Errorf("decompressing: %w", err)
	}
	return nil
}

// budgetReader reads r, drawing what it reads from *remaining, and fails once that is spent.
type budgetReader struct {
	r         io.Reader
	remaining *int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if *b.remaining < 0 {
		return 0, errDecompressedTooLarge
	}
	if int64(len(p)) > *b.remaining+1 {
		p = p[:*b.remaining+1]
	}
	n, err := b.r.Read(p)
	*b.remaining -= int64(n)
	if *b.remaining < 0 {
		return n, errDecompressedTooLarge
	}
	return n, err
}

// httpClient is the client for Helm repositories and OCI registries: the configured one (or Go's
// default), with every redirect checked, so a repository cannot send meshkeeper from https to plain
// http, nor take its credentials to another host.
func (f RemoteFetcher) httpClient() *http.Client {
	c := &http.Client{}
	if f.HTTPClient != nil {
		copied := *f.HTTPClient
		c = &copied
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			return fmt.Errorf("refusing the redirect from %s to %s: not https", RedactURL(via[len(via)-1].URL.String()), RedactURL(req.URL.String()))
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		// Go's client keeps the Authorization header on a redirect to another port of the same host
		// name, or to a subdomain of it: other servers, which the credentials were not given for.
		// They go only to the host and port of the first request.
		if !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return c
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
func (f RemoteFetcher) fetchFromHelmRepository(ctx context.Context, repository, name, version string, credentials Credentials) ([]byte, string, error) {
	shown := RedactURL(repository)
	indexURL, err := resolveURL(repository, "index.yaml")
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q is not a valid URL", ErrRepositoryUnreachable, shown)
	}
	repositoryHost := hostOf(repository)
	data, status, err := f.get(ctx, indexURL, maxIndexBytes, credentials, repositoryHost)
	if err != nil {
		return nil, "", fmt.Errorf("%w: fetching the index of Helm repository %s: %w", ErrRepositoryUnreachable, shown, err)
	}
	if status != http.StatusOK {
		// A missing index.yaml means the URL is not a Helm repository (a mistyped path, say). That
		// does not say the chart does not exist, so it is not ErrChartNotFound.
		return nil, "", fmt.Errorf("%w: %s is not a Helm repository: GET %s: %d %s",
			ErrRepositoryUnreachable, shown, RedactURL(indexURL), status, http.StatusText(status))
	}
	index, err := parseIndex(data)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the index of Helm repository %s is malformed: %w", ErrRepositoryUnreachable, shown, err)
	}

	versions, ok := index.Entries[name]
	if !ok || len(versions) == 0 {
		return nil, "", fmt.Errorf("%w: Helm repository %s has no chart %s (version %s asked for)",
			ErrChartNotFound, shown, name, version)
	}
	var entry *indexEntry
	for _, cv := range versions {
		if cv != nil && cv.Version == version {
			entry = cv
			break
		}
	}
	if entry == nil {
		return nil, "", fmt.Errorf("%w: Helm repository %s has chart %s but not version %s",
			ErrChartNotFound, shown, name, version)
	}
	if len(entry.URLs) == 0 {
		return nil, "", fmt.Errorf("%w: the index of Helm repository %s lists %s %s without a download URL",
			ErrRepositoryUnreachable, shown, name, version)
	}

	// Relative URLs are relative to the repository URL, as Helm resolves them.
	archiveURL, err := resolveURL(repository, entry.URLs[0])
	if err != nil {
		return nil, "", fmt.Errorf("%w: the index of Helm repository %s has an invalid URL for %s %s: %w",
			ErrRepositoryUnreachable, shown, name, version, err)
	}
	// An index served over https must not send meshkeeper to plain http for the archive.
	if u, err := url.Parse(archiveURL); err != nil || u.Scheme != "https" {
		return nil, "", fmt.Errorf("%w: the index of Helm repository %s lists %s %s at %s, which is not an https URL; meshkeeper downloads charts over https only",
			ErrRepositoryUnreachable, shown, name, version, RedactURL(archiveURL))
	}
	if entry.Digest == "" {
		return nil, "", fmt.Errorf("%w: the index of Helm repository %s lists %s %s without a digest; meshkeeper installs only charts whose digest the index states (helm repo index writes it)",
			ErrRepositoryUnreachable, shown, name, version)
	}
	archive, status, err := f.get(ctx, archiveURL, maxArchiveBytes, credentials, repositoryHost)
	if err != nil {
		return nil, "", fmt.Errorf("%w: downloading %s %s from %s: %w", ErrRepositoryUnreachable, name, version, shown, err)
	}
	if status != http.StatusOK {
		// The index lists the chart, so a missing archive is a broken repository, not a missing chart.
		return nil, "", fmt.Errorf("%w: downloading %s %s from %s: GET %s: %d %s",
			ErrRepositoryUnreachable, name, version, shown, RedactURL(archiveURL), status, http.StatusText(status))
	}

	sum := sha256.Sum256(archive)
	actual := hex.EncodeToString(sum[:])
	expected, err := sha256Hex(entry.Digest)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the index of Helm repository %s has digest %q for %s %s: %w",
			ErrRepositoryUnreachable, shown, entry.Digest, name, version, err)
	}
	if expected != actual {
		return nil, "", fmt.Errorf("%w: digest mismatch for %s %s from %s: the index says sha256:%s, the archive at %s is sha256:%s",
			ErrRepositoryUnreachable, name, version, shown, expected, RedactURL(archiveURL), actual)
	}
	return archive, "sha256:" + actual, nil
}

// get downloads url. A status other than 200 is returned, not an error, for the caller to say what it
// means; a body longer than limit is an error. Credentials go only to credentialsHost, the
// repository's own host; Go's client drops them on a redirect to another host.
func (f RemoteFetcher) get(ctx context.Context, url string, limit int64, credentials Credentials, credentialsHost string) ([]byte, int, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("requesting %s: invalid URL", RedactURL(url))
	}
	req.Header.Set("User-Agent", userAgent)
	if !credentials.IsZero() && strings.EqualFold(req.URL.Host, credentialsHost) {
		req.SetBasicAuth(credentials.Username, credentials.Password)
	}
	resp, err := f.httpClient().Do(req)
	if err != nil {
		return nil, 0, redactURLError(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", RedactURL(url), err)
	}
	if int64(len(data)) > limit {
		return nil, 0, fmt.Errorf("%s is larger than %d MiB", RedactURL(url), limit>>20)
	}
	return data, resp.StatusCode, nil
}

// index is what meshkeeper reads of a Helm repository's index.yaml: per chart name, its versions and
// where to download each.
type index struct {
	APIVersion string                   `json:"apiVersion"`
	Entries    map[string][]*indexEntry `json:"entries"`
}

// indexEntry is one version of a chart in a repository index.
type indexEntry struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	URLs    []string `json:"urls"`
	Digest  string   `json:"digest"`
}

// parseIndex reads an index.yaml (YAML or JSON), keeping it in memory. Fields meshkeeper does not read
// are skipped.
func parseIndex(data []byte) (*index, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the index is empty")
	}
	if n := indexNodes(data); n > maxIndexNodes {
		return nil, fmt.Errorf("the index has more than %d Ki nodes (%d Ki), more than meshkeeper parses within its memory: "+
			"point spec.charts.repository at a repository that serves Istio's charts without thousands of others (or an OCI registry)", maxIndexNodes>>10, n>>10)
	}
	idx := &index{}
	var err error
	if json.Valid(data) {
		err = json.Unmarshal(data, idx)
	} else {
		err = yaml.Unmarshal(data, idx)
	}
	if err != nil {
		return nil, err
	}
	if idx.APIVersion == "" {
		return nil, errors.New("the index has no apiVersion")
	}
	return idx, nil
}

// indexNodes measures the nodes of a YAML or JSON document without parsing it: it counts the places
// where a node may begin, every line break (YAML's NEL, LS and PS as well as '\n'), ',', '[' and '{',
// and every ':', '-' and '?' followed by a blank or a line break (a mapping value, a sequence entry, a
// key), and every NUL (text in UTF-16, which the parser reads as well). Each of these begins at most a few nodes (a
// collection, a key, its value), and no node but the document's root begins elsewhere, so the
// document has at most a few times as many nodes as the count; text that merely holds these
// characters (a description with commas) only counts more.
func indexNodes(data []byte) int {
	c := &nodeCounter{}
	_, _ = c.Write(data)
	return c.count()
}

// nodeCounter counts what indexNodes does of the document written to it, in as many writes as it
// comes in, so that a file of a chart is counted as it is decompressed, without being held.
type nodeCounter struct {
	n int
	// indicator is whether the last byte written was ':', '-' or '?' (or the start of a multi-byte line
	// break after one), which counts if a blank, a line break or the document's end follows.
	indicator bool
	// last are the last two bytes written, to find the multi-byte line breaks.
	last [2]byte
}

func (c *nodeCounter) Write(p []byte) (int, error) {
	for _, b := range p {
		// YAML's other line breaks, NEL (C2 85), LS (E2 80 A8) and PS (E2 80 A9), break lines and
		// follow an indicator as a blank does: they count where '\n' does, at their last byte.
		otherBreak := b == 0x85 && c.last[1] == 0xc2 || (b == 0xa8 || b == 0xa9) && c.last == [2]byte{0xe2, 0x80}
		c.last = [2]byte{c.last[1], b}
		if c.indicator {
			switch {
			case b == ' ', b == '\t', b == '\r', b == '\n', otherBreak:
				c.indicator = false
				c.n++
				continue
			case b == 0xc2 || b == 0xe2 || b == 0x80:
				// Perhaps the start of one of those breaks: the indicator waits for its end.
				continue
			}
			c.indicator = false
		}
		switch {
		case b == '\n', b == ',', b == '[', b == '{', otherBreak:
			c.n++
		case b == 0:
			// Text in UTF-16 (or UTF-32), which the parser reads too, and in which the indicators
			// are followed by a NUL rather than a blank. No real index or chart is written so:
			// counting every NUL keeps it within the bound, and refuses it when it is long.
			c.n++
		case b == ':', b == '-', b == '?':
			c.indicator = true
		}
	}
	return len(p), nil
}

// count is the nodes counted of what was written, as the whole document.
func (c *nodeCounter) count() int {
	if c.indicator {
		return c.n + 1
	}
	return c.n
}

// resolveURL resolves ref, a URL the index gives, against the repository's URL as Helm does: a relative
// ref is relative to the repository's path as a directory, and keeps the repository URL's query.
func resolveURL(repository, ref string) (string, error) {
	refURL, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	if refURL.IsAbs() {
		return ref, nil
	}
	base, err := url.Parse(repository)
	if err != nil {
		return "", err
	}
	base.Path = strings.TrimSuffix(base.Path, "/") + "/"
	if base.RawPath != "" {
		base.RawPath = strings.TrimSuffix(base.RawPath, "/") + "/"
	}
	resolved := base.ResolveReference(refURL)
	resolved.RawQuery = base.RawQuery
	return resolved.String(), nil
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
// client reads Helm's and Docker's credential stores, takes no context and bounds no download; the
// bearer-token exchange registries ask for, anonymous or with the credentials of a private registry
// (given for the registry's host only), needs none of that.
func (f RemoteFetcher) fetchFromRegistry(ctx context.Context, repository, name, version string, credentials Credentials) ([]byte, string, error) {
	shown := RedactURL(repository)
	path := strings.TrimSuffix(strings.TrimPrefix(repository, "oci://"), "/")
	// OCI tags cannot hold '+', so Helm pushes semver build metadata with '_' instead.
	tag := strings.ReplaceAll(version, "+", "_")
	ref := path + "/" + name + ":" + tag
	target, err := remote.NewRepository(ref)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s/%s:%s is not a valid OCI reference: %w", ErrRepositoryUnreachable, shown, name, tag, err)
	}
	authClient := &auth.Client{Client: f.httpClient(), Cache: auth.NewCache()}
	if !credentials.IsZero() {
		// The credentials are the registry host's. As in every registry client (the distribution spec's
		// token authentication), they also go to the token service the registry's challenge names,
		// which may be another host (Docker Hub's auth.docker.io); the registry is an allow-listed one,
		// which could as well ask for them with a Basic challenge. oras's client refuses a token
		// service over plain http, and one on a loopback, link-local or private address other than the
		// registry's, before sending anything (TestRemoteFetcherSendsCredentialsToTokenServicesOverHTTPSOnly).
		authClient.Credential = auth.StaticCredential(target.Reference.Registry,
			auth.Credential{Username: credentials.Username, Password: credentials.Password})
	}
	authClient.SetUserAgent(userAgent)
	target.Client = authClient

	manifestCtx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	manifestDesc, data, err := oras.FetchBytes(manifestCtx, target, tag,
		oras.FetchBytesOptions{MaxBytes: maxManifestBytes})
	if err != nil {
		if isNotFound(err) {
			return nil, "", fmt.Errorf("%w: OCI registry %s has no chart %s version %s: %w",
				ErrChartNotFound, shown, name, version, err)
		}
		return nil, "", fmt.Errorf("%w: fetching %s from OCI registry %s: %w", ErrRepositoryUnreachable, ref, shown, err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(data, &manifest); err != nil {
		return nil, "", fmt.Errorf("%w: the manifest of %s (%s) is malformed: %w", ErrRepositoryUnreachable, ref, manifestDesc.Digest, err)
	}
	var layer *ocispec.Descriptor
	for i := range manifest.Layers {
		switch manifest.Layers[i].MediaType {
		case chartLayerMediaType, legacyChartLayerMediaType:
			layer = &manifest.Layers[i]
		}
	}
	if layer == nil {
		return nil, "", fmt.Errorf("%w: %s (%s) is not a Helm chart: its manifest has no layer of media type %s",
			ErrRepositoryUnreachable, ref, manifestDesc.Digest, chartLayerMediaType)
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

// hostOf is the host (and port) of a URL, or "" when it does not parse.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// redactURLError removes user information from the URL a *url.Error names.
func redactURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return &url.Error{Op: urlErr.Op, URL: RedactURL(urlErr.URL), Err: urlErr.Err}
	}
	return err
}
