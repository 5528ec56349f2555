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

package render

import (
	"strings"
	"testing"
)

// FuzzEgressHosts feeds EgressHosts what a namespace owner may write into the egress-hosts
// annotation: every non-blank entry is either a valid host or reported as malformed, and no host is
// longer than Istio accepts.
func FuzzEgressHosts(f *testing.F) {
	f.Add("payments/*,monitoring/prometheus.monitoring.svc.cluster.local")
	f.Add(" ./foo.shop.svc.cluster.local , ~/* ,*/api.example.com,")
	f.Add("payments,/x,a/b/c,Payments/*")
	f.Add(strings.Repeat("a", 400) + "/*")
	f.Fuzz(func(t *testing.T, annotation string) {
		hosts, malformed := EgressHosts(annotation)
		entries := 0
		for _, e := range strings.Split(annotation, ",") {
			if strings.TrimSpace(e) != "" {
				entries++
			}
		}
		if len(hosts)+len(malformed) != entries {
			t.Fatalf("%q: %d hosts and %d malformed for %d entries", annotation, len(hosts), len(malformed), entries)
		}
		for _, h := range hosts {
			if len(h) > 320 || !egressHost.MatchString(h) || strings.ContainsAny(h, " ,") {
				t.Fatalf("%q: host %q is not a valid egress host", annotation, h)
			}
		}
	})
}
