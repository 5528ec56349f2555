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

package render_test

import (
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// Every entry of the egress-hosts annotation that meshkeeper leaves out is reported with the reason
// istiod refuses it (or meshkeeper does not take it), and an entry it writes has none: the reason is
// what tells the namespace's owner what to correct in an entry that has the form "namespace/dnsName".
func TestEgressHostProblemSaysWhy(t *testing.T) {
	long := strings.Repeat("a", 64)
	for host, want := range map[string]string{
		"payments/*":                            "",
		"~/*":                                   "",
		"*/*.example.com":                       "",
		"./web.shop.svc.cluster.local":          "",
		"payments/payments-api":                 "short name",
		"*/10.0.0.1":                            "all-digit label",
		"*/api.example.123":                     "all-digit label",
		"monitoring/* search/*":                 "blank",
		"api.example.com":                       "no namespace part",
		"~prod/*":                               "excludes hosts",
		"Payments/*":                            "namespace part",
		long + "/*":                             "namespace part",
		"payments/":                             "dnsName is empty",
		"shop/web/path":                         "more than one /",
		"shop/web.shop.svc.cluster.local:8080":  "a port",
		"*/fd00::1":                             "an IP address",
		"*/" + strings.Repeat("a.", 127) + "io": "longer than 255",
		"*/api.example.com.":                    "ends in a dot",
		"payments/api*.example.com":             "wildcard",
		"*/*.*.example.com":                     "wildcard",
		"*/" + long + ".example.com":            "longer than 63",
		"*/-api.example.com":                    "no DNS name",
		"*/api_v1.example.com":                  "no DNS name",
	} {
		got := render.EgressHostProblem(host)
		switch {
		case want == "" && got != "":
			t.Errorf("EgressHostProblem(%.80q) = %q, want none: meshkeeper writes the host", host, got)
		case want != "" && !strings.Contains(got, want):
			t.Errorf("EgressHostProblem(%.80q) = %q, want a reason about %q", host, got, want)
		}
		if (got == "") != render.ValidEgressHost(host) {
			t.Errorf("EgressHostProblem(%.80q) = %q while ValidEgressHost says %t", host, got, render.ValidEgressHost(host))
		}
	}
}

// FuzzEgressHostProblem: an entry has a reason exactly when meshkeeper leaves it out.
func FuzzEgressHostProblem(f *testing.F) {
	for _, seed := range []string{"payments/*", "payments/payments-api", "~prod/*", "*/10.0.0.1", "a b", "shop/web:80", "*/*.*.x.io"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if problem := render.EgressHostProblem(host); (problem == "") != render.ValidEgressHost(host) {
			t.Fatalf("EgressHostProblem(%q) = %q while ValidEgressHost says %t", host, problem, render.ValidEgressHost(host))
		}
	})
}
