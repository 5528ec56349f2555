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

package metrics

import (
	"fmt"
	"testing"
)

// TestProxiesNeedingRestartBounded checks that meshkeeper_proxies_need_restart keeps a bounded number of
// series on a cluster of many enrolled namespaces, all with pods to restart (every namespace after an
// Istio upgrade with Manual restarts): the namespaces with the most pods keep a series each, and the
// others are counted together, so that the series still add up to the pods needing a restart.
func TestProxiesNeedingRestartBounded(t *testing.T) {
	perNamespace := map[string]int{"shop": 500, "payments": 400}
	total := 900
	for i := range 10000 {
		n := 1 + i%7
		perNamespace[fmt.Sprintf("team-%05d", i)] = n
		total += n
	}
	SetProxies(int32(total), 0, int32(total), perNamespace)
	defer SetProxies(0, 0, 0, nil)

	const most = NeedRestartNamespaces + 1 // the namespaces with the most pods, and one series for the others
	families := scrape(t)
	family := families[ProxiesNeedingRestartName]
	if family == nil {
		t.Fatalf("no %s", ProxiesNeedingRestartName)
	}
	if n := len(family.Metric); n > most {
		t.Errorf("%s has %d series for %d namespaces with pods to restart, want at most %d", ProxiesNeedingRestartName, n, len(perNamespace), most)
	}
	sum, byNamespace := 0.0, map[string]float64{}
	for _, m := range family.Metric {
		sum += m.GetGauge().GetValue()
		byNamespace[labels(m)["target_namespace"]] = m.GetGauge().GetValue()
	}
	if sum != float64(total) {
		t.Errorf("the series add up to %v pods, want %d", sum, total)
	}
	if byNamespace["shop"] != 500 || byNamespace["payments"] != 400 {
		t.Errorf("shop %v and payments %v, want their own series with 500 and 400", byNamespace["shop"], byNamespace["payments"])
	}
	if byNamespace[OtherNamespaces] == 0 {
		t.Errorf("no series %q counts the pods of the namespaces beyond the %d named", OtherNamespaces, NeedRestartNamespaces)
	}
}
