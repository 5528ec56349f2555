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

package main

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The allow-list flags take their defaults from the environment, which an OLM Subscription can set
// (spec.config.env) where it cannot set arguments: set, even empty (no chart repository), the variable
// is the default; unset, the built-in one is.
func TestAllowListsDefaultFromTheEnvironment(t *testing.T) {
	for _, name := range []string{envAllowedRepositories, envAllowedHubs, envControlPlaneNamespaces} {
		t.Run(name, func(t *testing.T) {
			if got := fromEnv(name, "built-in"); got != "built-in" {
				t.Errorf("unset: %q, want the built-in default", got)
			}
			t.Setenv(name, "registry.example.com/istio")
			if got := fromEnv(name, "built-in"); got != "registry.example.com/istio" {
				t.Errorf("set: %q, want the variable's value", got)
			}
			t.Setenv(name, "")
			if got := fromEnv(name, "built-in"); got != "" {
				t.Errorf("set empty: %q, want empty", got)
			}
		})
	}
}

func TestNamespaceList(t *testing.T) {
	for flag, want := range map[string][]string{
		"istio-system":               {"istio-system"},
		" istio-system, kube-system": {"istio-system", "kube-system"},
		"*":                          nil,
		"istio-system,*":             nil,
	} {
		got, err := namespaceList(flag)
		if err != nil || !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("namespaceList(%q) = %#v, %v, want %#v", flag, got, err, want)
		}
	}
	// A value that names no namespace would leave the cache unlimited (CacheByObject limits it only to
	// namespaces listed): it is refused.
	for _, flag := range []string{"", " , "} {
		if got, err := namespaceList(flag); err == nil {
			t.Errorf("namespaceList(%q) = %#v, want an error", flag, got)
		}
	}
}

// TestInstallDocListsEveryFlag: docs/install.md's table of manager flags names every flag the manager
// takes, and no flag it does not take, with the default the manager really has.
func TestInstallDocListsEveryFlag(t *testing.T) {
	doc, err := os.ReadFile("docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Manager flags\n")
	if !ok {
		t.Fatal("docs/install.md has no section \"Manager flags\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]string{} // flag → its default column
	row := regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\| ([^|]*) \\|")
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		documented[m[1]] = strings.TrimSpace(m[2])
	}

	fs := flag.NewFlagSet("meshkeeper", flag.ContinueOnError)
	bindFlags(fs)
	// controller-runtime registers --kubeconfig on the command line's flag set when it is imported.
	if kubeconfig := flag.CommandLine.Lookup("kubeconfig"); kubeconfig != nil {
		fs.Var(kubeconfig.Value, kubeconfig.Name, kubeconfig.Usage)
	}
	taken := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		taken[f.Name] = true
		column, ok := documented[f.Name]
		if !ok {
			t.Errorf("the manager takes --%s, which docs/install.md's table of flags does not list", f.Name)
			return
		}
		// A default the flag spells (not one the zap or kubeconfig packages leave empty) is in the column.
		if f.DefValue != "" && f.DefValue != "[]" && !strings.Contains(column, "`"+f.DefValue+"`") &&
			!strings.Contains(f.DefValue, ",") {
			t.Errorf("--%s defaults to %q; docs/install.md says %s", f.Name, f.DefValue, column)
		}
	})
	for name := range documented {
		if !taken[name] {
			t.Errorf("docs/install.md lists --%s, which the manager does not take", name)
		}
	}
	if len(documented) == 0 {
		t.Error("docs/install.md's table of flags lists no flag")
	}
}
