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
	"io/fs"
	"testing"

	"istio.io/istio/manifests"
)

// maxChartNodes leaves a wide margin above what Istio's charts count: a release's charts are the
// built-in ones, versioned, and their values grow by a few dozen nodes a release.
func TestIstioChartsCountFarFewerNodesThanTheBound(t *testing.T) {
	for name, dir := range builtinDirs {
		nodes := 0
		err := fs.WalkDir(manifests.FS, dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !loadedAsYAML(path) {
				return err
			}
			data, err := fs.ReadFile(manifests.FS, path)
			if err != nil {
				return err
			}
			t.Logf("%s: %d nodes", path, indexNodes(data))
			nodes += indexNodes(data)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if nodes > maxChartNodes/16 {
			t.Errorf("chart %s counts %d nodes, within %d of the bound of %d", name, nodes, maxChartNodes-nodes, maxChartNodes)
		}
	}
}
