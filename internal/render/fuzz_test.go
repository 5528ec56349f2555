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
	"os"
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
			if !ValidEgressHost(h) || strings.ContainsAny(h, " ,") {
				t.Fatalf("%q: host %q is not a valid egress host", annotation, h)
			}
		}
	})
}

// TestTheCRDValidatesEgressHostsAlike: spec.sidecarScoping.egressHosts is checked by the API server with
// the CRD's pattern, the annotation by egressHost; both must accept the same hosts.
func TestTheCRDValidatesEgressHostsAlike(t *testing.T) {
	crd, err := os.ReadFile("../../config/crd/bases/mesh.meshkeeper.io_servicemeshes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, after, found := strings.Cut(string(crd), "egressHosts:")
	if !found {
		t.Fatal("the CRD has no egressHosts")
	}
	_, after, found = strings.Cut(after, "pattern: ")
	if !found {
		t.Fatal("egressHosts has no pattern")
	}
	pattern, _, _ := strings.Cut(after, "\n")
	if pattern != egressHost.String() {
		t.Errorf("the CRD's egressHosts pattern\n  %s\ndiffers from egressHost\n  %s", pattern, egressHost.String())
	}
}
