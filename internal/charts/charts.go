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

// Package charts provides the Istio Helm charts meshkeeper installs: the ones built into meshkeeper
// (istio.io/istio/manifests, the same charts istioctl ships) or, for a pinned version, the ones in a
// Helm repository or OCI registry.
package charts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"istio.io/istio/manifests"

	"github.com/meshkeeper/meshkeeper/internal/helm/trust"
)

// BuiltinVersion is the Istio version of the built-in charts: the version a ServiceMesh without
// spec.version runs. The upstream charts carry a placeholder version (1.0.0) that Istio's release
// tooling replaces; meshkeeper does the same when it loads them.
const BuiltinVersion = "1.31.1"

// The charts of a mesh, by their names in Istio's chart repositories: the two of the control plane
// and the CNI node agent's.
const (
	Base   = "base"
	Istiod = "istiod"
	CNI    = "cni"
)

// builtinDirs are the chart directories inside istio.io/istio/manifests.
var builtinDirs = map[string]string{
	Base:   "charts/base",
	Istiod: "charts/istio-control/istio-discovery",
	CNI:    "charts/istio-cni",
}

// Builtin loads a built-in chart by name (Base, Istiod or CNI), versioned as BuiltinVersion.
func Builtin(name string) (*chartv2.Chart, error) {
	dir, ok := builtinDirs[name]
	if !ok {
		return nil, fmt.Errorf("no built-in chart %q", name)
	}
	chart, err := loadDir(manifests.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("loading built-in chart %s: %w", name, err)
	}
	chart.Metadata.Version = BuiltinVersion
	chart.Metadata.AppVersion = BuiltinVersion
	// Part of the binary: its templates render in the manager's process, not in a sandbox.
	trust.Chart(chart)
	return chart, nil
}

// loadDir loads the chart in directory dir of fsys.
func loadDir(fsys fs.FS, dir string) (*chartv2.Chart, error) {
	var files []*archive.BufferedFile
	err := fs.WalkDir(fsys, dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		files = append(files, &archive.BufferedFile{Name: strings.TrimPrefix(path, dir+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loader.LoadFiles(files)
}

// Digest identifies a chart's content: its metadata version and every file it is made of. Two charts
// with the same digest render the same objects for the same values.
func Digest(chart *chartv2.Chart) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", chart.Metadata.Name, chart.Metadata.Version)
	files := make([]string, 0, len(chart.Raw))
	byName := map[string][]byte{}
	for _, f := range chart.Raw {
		files = append(files, f.Name)
		byName[f.Name] = f.Data
	}
	sort.Strings(files)
	for _, name := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(byName[name]))
		h.Write(byName[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}
