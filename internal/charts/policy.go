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
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
)

var (
	// ErrRepositoryNotAllowed means spec.charts.repository is outside the chart repositories the operator's
	// installer allowed (--allowed-chart-repositories).
	ErrRepositoryNotAllowed = errors.New("chart repository not allowed")
	// ErrImageHubNotAllowed means an image the control plane would pull is outside the image hubs the
	// operator's installer allowed (--allowed-image-hubs).
	ErrImageHubNotAllowed = errors.New("image hub not allowed")
	// ErrNamespaceNotAllowed means spec.namespace or spec.cni.namespace is outside the namespaces the
	// operator's installer allowed (--control-plane-namespaces).
	ErrNamespaceNotAllowed = errors.New("namespace not allowed")
)

// DefaultRepositories are Istio's official chart locations.
var DefaultRepositories = []string{
	"https://istio-release.storage.googleapis.com/charts",
	"https://blob.istio.io/istio-release/charts",
	"oci://ghcr.io/istio/release/charts",
}

// DefaultImageHubs are Istio's official image hubs.
var DefaultImageHubs = []string{"docker.io/istio", "gcr.io/istio-release", "ghcr.io/istio"}

// Policy is what the operator's installer allows a ServiceMesh to use: chart repositories and image
// hubs, each given as a prefix that matches itself and what lies below it, on path-segment boundaries
// ("https://example.com/charts" allows ".../charts/istio", not ".../charts-evil"). A nil list means
// the default; an empty one allows nothing (the built-in charts need no repository).
type Policy struct {
	Repositories []string
	ImageHubs    []string
	// Namespaces are the namespaces a ServiceMesh may put its control plane (spec.namespace) and
	// istio-cni agent (spec.cni.namespace) in: meshkeeper holds the rights to keep Helm's release
	// Secrets only there. Nil allows any namespace; an empty list allows none.
	Namespaces []string
}

// ParseList splits a comma-separated flag value into its non-empty, trimmed entries.
func ParseList(s string) []string {
	list := []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}

func (p Policy) repositories() []string {
	if p.Repositories == nil {
		return DefaultRepositories
	}
	return p.Repositories
}

func (p Policy) imageHubs() []string {
	if p.ImageHubs == nil {
		return DefaultImageHubs
	}
	return p.ImageHubs
}

// CheckRepository returns an error wrapping ErrRepositoryNotAllowed unless repository is empty (the
// built-in charts) or lies under an allowed repository.
func (p Policy) CheckRepository(repository string) error {
	if repository == "" {
		return nil
	}
	for _, allowed := range p.repositories() {
		if repositoryUnder(repository, allowed) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not among the chart repositories this meshkeeper may install from (%s); the operator's installer sets them with --allowed-chart-repositories (chart value allowedChartRepositories)",
		ErrRepositoryNotAllowed, RedactURL(repository), strings.Join(p.repositories(), ", "))
}

// CheckImageHubs returns an error wrapping ErrImageHubNotAllowed naming the first hub that lies under
// no allowed hub.
func (p Policy) CheckImageHubs(hubs []string) error {
	for _, hub := range hubs {
		if !p.hubAllowed(hub) {
			return fmt.Errorf("%w: %s is not among the image hubs this meshkeeper may pull Istio images from (%s); set spec.images.hub (and any hub or image in spec.values) to an allowed hub, or ask the operator's installer to allow it with --allowed-image-hubs (chart value allowedImageHubs)",
				ErrImageHubNotAllowed, hub, strings.Join(p.imageHubs(), ", "))
		}
	}
	return nil
}

// hubAllowed tells whether hub lies under an allowed hub.
func (p Policy) hubAllowed(hub string) bool {
	return slices.ContainsFunc(p.imageHubs(), func(allowed string) bool { return hubUnder(hub, allowed) })
}

// CheckImage returns an error wrapping ErrImageHubNotAllowed unless the hub of image (what precedes its
// last path segment, without the tag or digest) lies under an allowed hub.
func (p Policy) CheckImage(image string) error {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	hub := ""
	if i := strings.LastIndex(name, "/"); i > 0 {
		hub = name[:i]
	}
	if hub != "" && p.hubAllowed(hub) {
		return nil
	}
	return fmt.Errorf("%w: its hub %q is not among the image hubs this meshkeeper may pull Istio images from (%s)",
		ErrImageHubNotAllowed, hub, strings.Join(p.imageHubs(), ", "))
}

// CheckNamespace returns an error wrapping ErrNamespaceNotAllowed unless namespace is one the installer
// allows (what names it is said by what, as "spec.namespace").
func (p Policy) CheckNamespace(namespace, what string) error {
	if p.Namespaces == nil || slices.Contains(p.Namespaces, namespace) {
		return nil
	}
	allowed := "none"
	if len(p.Namespaces) > 0 {
		allowed = strings.Join(p.Namespaces, ", ")
	}
	return fmt.Errorf("%w: %s %s is not among the namespaces this meshkeeper may install into (%s): it holds the rights to keep Helm's release Secrets only there; use one of them, or ask the operator's installer to add it with --control-plane-namespaces (chart value controlPlaneNamespaces)",
		ErrNamespaceNotAllowed, what, namespace, allowed)
}

// repositoryUnder reports whether repository is allowed or below it: the same scheme and host (case
// insensitive), and a path that is allowed's path or continues it after a '/'.
func repositoryUnder(repository, allowed string) bool {
	r, err := url.Parse(repository)
	if err != nil || r.Opaque != "" || r.User != nil || r.RawQuery != "" || r.Fragment != "" {
		return false
	}
	a, err := url.Parse(allowed)
	if err != nil {
		return false
	}
	if !strings.EqualFold(r.Scheme, a.Scheme) || !strings.EqualFold(r.Host, a.Host) || r.Host == "" {
		return false
	}
	return pathUnder(r.Path, a.Path)
}

// hubUnder reports whether hub is allowed or below it, after both are normalised.
func hubUnder(hub, allowed string) bool {
	h, ok := normalizeHub(hub)
	if !ok {
		return false
	}
	a, ok := normalizeHub(allowed)
	if !ok {
		return false
	}
	hostH, pathH, _ := strings.Cut(h, "/")
	hostA, pathA, _ := strings.Cut(a, "/")
	return hostH == hostA && pathUnder("/"+pathH, "/"+pathA)
}

// normalizeHub writes a hub the way the container runtime resolves it: a first segment that is not a
// host name (no '.' or ':', and not localhost) means Docker Hub, whose other names are folded into
// docker.io; the host is lowercase. A hub with "." or ".." segments, or empty ones, is refused.
func normalizeHub(hub string) (string, bool) {
	hub = strings.TrimSuffix(strings.TrimSpace(hub), "/")
	if hub == "" || strings.Contains(hub, "://") || strings.ContainsAny(hub, "@ ") {
		return "", false
	}
	for _, segment := range strings.Split(hub, "/") {
		if segment == "" || segment == "." || segment == ".." {
			return "", false
		}
	}
	host, rest, found := strings.Cut(hub, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		host, rest, found = "docker.io", hub, true
	}
	host = strings.ToLower(host)
	if host == "index.docker.io" || host == "registry-1.docker.io" {
		host = "docker.io"
	}
	if !found {
		return host, true
	}
	return host + "/" + rest, true
}

// pathUnder reports whether p is base or below it on a path-segment boundary, after both are cleaned.
func pathUnder(p, base string) bool {
	p, base = cleanPath(p), cleanPath(base)
	return base == "/" || p == base || strings.HasPrefix(p, base+"/")
}

func cleanPath(p string) string {
	return path.Clean("/" + p)
}

// ImageHub is the hub of a full image reference ("registry/path/name:tag@digest"): everything before
// the image's name.
func ImageHub(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndex(image, "/")
	if slash < 0 {
		return ""
	}
	return image[:slash]
}

// ImageTag is the tag of an image reference ("registry/path/name:tag@digest"); "" when it has none
// (a reference pinned by digest alone, or with a registry port but no tag).
func ImageTag(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if colon := strings.LastIndex(image, ":"); colon > strings.LastIndex(image, "/") {
		return image[colon+1:]
	}
	return ""
}

// RedactURL is raw with any user information (user:password@) removed, for conditions, Events and
// logs. A string that does not parse as a URL is returned with everything up to an '@' before the
// first '/' after the scheme removed.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	if err == nil {
		return raw
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority, tail, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		authority = authority[i+1:]
		if tail != "" || strings.Contains(rest, "/") {
			return scheme + "://" + authority + "/" + tail
		}
		return scheme + "://" + authority
	}
	return raw
}
