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

// Package trust keeps which charts meshkeeper built in: the only charts whose templates render in the
// manager's process (every other chart renders in a sandbox process, see internal/helm).
package trust

import (
	"runtime"
	"sync"
	"weak"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
)

// trusted holds the charts that render in the manager's process, each until it is collected.
var trusted sync.Map // weak.Pointer[chartv2.Chart] → struct{}

// Chart lets chart (and its subcharts) render in the manager's process: only for the charts built into
// meshkeeper's binary, whose templates are as much meshkeeper's code as the binary is.
func Chart(chart *chartv2.Chart) {
	for _, c := range append([]*chartv2.Chart{chart}, chart.Dependencies()...) {
		key := weak.Make(c)
		if _, known := trusted.LoadOrStore(key, struct{}{}); !known {
			runtime.AddCleanup(c, func(key weak.Pointer[chartv2.Chart]) { trusted.Delete(key) }, key)
		}
	}
}

// Trusted says whether chart was passed to Chart.
func Trusted(chart *chartv2.Chart) bool {
	_, ok := trusted.Load(weak.Make(chart))
	return ok
}
