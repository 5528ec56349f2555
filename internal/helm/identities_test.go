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

package helm

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// recordIdentity is what recordObjects' callers read of an object of a record (objectKey, the group,
// version and kind they look the object up by, and the keep policy deleteOwned honours), and the
// namespace it has once recordObjects put it into a release namespace or took it out of one.
func recordIdentity(u *unstructured.Unstructured) []string {
	set, cleared := u.DeepCopy(), u.DeepCopy()
	set.SetNamespace("release-ns")
	cleared.SetNamespace("")
	return []string{objectKey(u), u.GroupVersionKind().String(), u.GetKind(), u.GetName(), u.GetNamespace(),
		u.GetAnnotations()[keepPolicyAnnotation], "set:" + set.GetNamespace(), "cleared:" + cleared.GetNamespace()}
}

// sameRecordObjects fails t unless got are want's objects, in order, as recordIdentity reads them.
func sameRecordObjects(t *testing.T, what string, got, want []*unstructured.Unstructured) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d objects, want %d", what, len(got), len(want))
	}
	for i := range want {
		if g, w := recordIdentity(got[i]), recordIdentity(want[i]); !slices.Equal(g, w) {
			t.Fatalf("%s: object %d is %q, want %q", what, i, g, w)
		}
	}
}

// checkDecodeIdentities fails t unless decodeIdentities accepts manifest exactly when decodeManifest
// does, with the same objects as recordIdentity reads them, and unless the fast path
// (recordIdentities), when it answers, answers the same.
func checkDecodeIdentities(t *testing.T, what string, manifest []byte) (fast bool) {
	t.Helper()
	want, wantErr := decodeManifest(manifest)
	got, err := decodeIdentities(string(manifest))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%s: decodeIdentities: %v; decodeManifest: %v", what, err, wantErr)
	}
	if err == nil {
		sameRecordObjects(t, what, got, want)
	} else if err.Error() != wantErr.Error() {
		t.Errorf("%s: decodeIdentities refuses it with %q, decodeManifest with %q", what, err, wantErr)
	}
	fastObjects, fast := recordIdentities(string(manifest))
	if fast {
		if wantErr != nil {
			t.Fatalf("%s: recordIdentities accepts what decodeManifest refuses (%v)", what, wantErr)
		}
		sameRecordObjects(t, what+" (recordIdentities)", fastObjects, want)
	}
	return fast
}

// TestDecodeIdentitiesMatchesDecodeManifestOnTheBuiltinRecords: the records of every built-in release
// (builtinReleases), rendered as an install does, give recordObjects through decodeIdentities the
// objects, in order, that decodeManifest gives, and without leaving them to decodeManifest.
func TestDecodeIdentitiesMatchesDecodeManifestOnTheBuiltinRecords(t *testing.T) {
	for _, release := range builtinReleases(t) {
		chart, err := charts.Builtin(release.chart)
		if err != nil {
			t.Fatal(err)
		}
		options := common.ReleaseOptions{Name: strings.ReplaceAll(release.name, " ", "-"), Namespace: release.namespace, Revision: 1, IsInstall: true}
		manifest, objects, err := renderAsInstall(chart, release.values, options)
		if err != nil {
			t.Fatal(err)
		}
		if !checkDecodeIdentities(t, release.name, []byte(manifest)) {
			t.Errorf("the record of %s is left to decodeManifest", release.name)
		}
		got, err := decodeIdentities(manifest)
		if err != nil || len(got) != len(objects) || len(got) == 0 {
			t.Fatalf("the record of %s: %d objects, %v; rendered %d", release.name, len(got), err, len(objects))
		}
	}
}

// TestDecodeIdentitiesMatchesDecodeManifestOnOddRecords: what a forged or damaged record may hold is
// accepted or refused as decodeManifest accepts or refuses it, with the same objects.
func TestDecodeIdentitiesMatchesDecodeManifestOnOddRecords(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
	deep := strings.Repeat("[", 1500) + strings.Repeat("]", 1500)
	long := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: long\ndata:\n  a: " + strings.Repeat("x", 3<<20) + "\n"
	cases := map[string]struct {
		manifest string
		fast     bool // recordIdentities answers itself
	}{
		"empty":                          {"", true},
		"separators only":                {"---\n---\n\n---\n", true},
		"comments only":                  {"# Source: x\n---\n# y\n", true},
		"one object":                     {cm, true},
		"source comments":                {"---\n# Source: istiod/templates/x.yaml\n" + cm + "---\n# Source: y\n" + cm, true},
		"non-string name":                {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 5\n  namespace: true\n", true},
		"list name":                      {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a]\n", true},
		"null name":                      {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ~\n  namespace: null\n", true},
		"non-string kind and apiVersion": {"apiVersion: 1\nkind: {a: b}\nmetadata: {name: a}\n", true},
		"no metadata":                    {"apiVersion: v1\nkind: ConfigMap\n", true},
		"null metadata":                  {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n", true},
		"scalar metadata":                {"apiVersion: v1\nkind: ConfigMap\nmetadata: 5\n", true},
		"list metadata":                  {"apiVersion: v1\nkind: ConfigMap\nmetadata: [name, a]\n", true},
		"empty metadata":                 {"apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", true},
		"no kind":                        {"metadata: {name: a}\n", true},
		"empty mapping":                  {cm + "---\n{}\n", true},
		"null document":                  {"~\n---\nnull\n---\n" + cm, true},
		"indented separator in a block":  {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  a: |\n    ---\n    b\n", true},
		"separator in a block":           {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  a: |\n---\n  b: c\n", true},
		"separator with text":            {"---x\n" + cm, false},
		"separator with a comment":       {"--- # c\n" + cm, true},
		"document end marker":            {cm + "...\n", true},
		"JSON first":                     {"{}\n---\n" + cm, false},
		"JSON object":                    {`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`, false},
		"JSON stream":                    {`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}} {"kind":"Secret","metadata":{"name":"b"}}`, false},
		"JSON then a list":               {"{\"apiVersion\":\"v1\",\"kind\":\"List\"}\n[1,2]\n", false},
		"JSON after YAML":                {cm + "---\n{\"kind\":\"Secret\",\"metadata\":{\"name\":\"b\",\"namespace\":\"c\"}}\n", true},
		"JSON past the sniffed length":   {strings.Repeat(" \n", 2100) + `{"kind":"Secret","metadata":{"name":"b"}}`, true},
		"flow mapping":                   {"{kind: Secret, metadata: {name: b}}\n", false},
		"anchors and aliases":            {"apiVersion: v1\nkind: ConfigMap\nmeta: &m {name: a, namespace: b}\nmetadata: *m\n", true},
		"merge key":                      {"base: &b {name: a, namespace: b}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: *b\n  name: c\n", true},
		"bad merge":                      {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: 5\n", false},
		"unknown alias":                  {"apiVersion: v1\nkind: ConfigMap\nmetadata: *m\n", false},
		"duplicate keys":                 {"apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata:\n  name: a\n  name: b\n", true},
		"keys of other types":            {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n1: a\n1.5: b\ntrue: c\n.inf: d\n.nan: e\n", true},
		"colliding keys":                 {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n1: a\n\"1\": b\n", true},
		"null key":                       {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n~: a\n", false},
		"big integer key":                {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n18446744073709551615: a\n", false},
		"list key":                       {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n? [a]\n: b\n", false},
		"map key":                        {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n? {a: b}\n: c\n", false},
		"NaN value":                      {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nspec: {x: [.nan]}\n", false},
		"infinite value":                 {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nspec: {x: -.inf}\n", false},
		"big numbers":                    {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nspec: {x: 18446744073709551615, y: 1e308, z: -9223372036854775808}\n", true},
		"timestamp":                      {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 2001-12-14t21:59:43.10-05:00}\n", true},
		"binary name":                    {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !!binary YWJj}\n", true},
		"invalid UTF-8 name":             {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !!binary Yf8=}\n", false},
		"invalid UTF-8 key":              {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, !!binary bmFtZf8=: b}\n", true},
		"tags":                           {"apiVersion: !!str v1\nkind: !Custom ConfigMap\nmetadata: {name: !!str 5}\n", true},
		"bad tag":                        {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !!int x}\n", false},
		"a list":                         {"- a\n- b\n", false},
		"a scalar":                       {"hello\n", false},
		"a list after an object":         {cm + "---\n- a\n", false},
		"tab indentation":                {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n", false},
		"unclosed flow":                  {"a: [\n", false},
		"CRLF":                           {strings.ReplaceAll("---\n"+cm+"---\n"+cm, "\n", "\r\n"), true},
		"CR at the end":                  {cm + "a: b\r", true},
		"CR before a separator":          {cm + "\r\n---\r\n" + cm + "\r", true},
		"lone CRs":                       {"apiVersion: v1\rkind: ConfigMap\n---\n" + cm, true},
		"separator with spaces":          {cm + "--- \t\u00a0\n" + cm + "---\v# c\n" + cm, true},
		"separator with a non-breaking space and text": {"---\u00a0x\n" + cm, false},
		"separator without its line end":               {cm + "---", true},
		"separators at the end":                        {cm + "---\n---\n", true},
		"blank lines":                                  {"\n\n" + cm + "\n\n---\n\n", true},
		"a long line with CRLF":                        {strings.ReplaceAll(long, "\n", "\r\n"), true},
		"no final newline":                             {strings.TrimSuffix(cm, "\n"), true},
		"keep policy":                                  {cm + "  annotations: {helm.sh/resource-policy: keep, a: b, c: ~}\n", true},
		"keep policy beside a number":                  {cm + "  annotations: {helm.sh/resource-policy: keep, a: 5}\n", true},
		"keep policy not a string":                     {cm + "  annotations: {helm.sh/resource-policy: [keep]}\n", true},
		"annotations not a map":                        {cm + "  annotations: keep\n", true},
		"annotation keys of other types":               {cm + "  annotations: {helm.sh/resource-policy: keep, 1: a}\n", false},
		"keep policy with invalid UTF-8":               {cm + "  annotations: {helm.sh/resource-policy: !!binary a2VlcP8=}\n", false},
		"deeply nested":                                {cm + "spec: " + deep + "\n", false},
		"too deeply nested":                            {cm + "spec: " + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "\n", false},
		"many aliases":                                 {"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n", false},
		"a long line":                                  {long, true},
		"a cluster-scoped kind in a namespace":         {"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: a, namespace: b}\n", true},
	}
	for name, tc := range cases {
		if fast := checkDecodeIdentities(t, name, []byte(tc.manifest)); fast != tc.fast {
			t.Errorf("%s: recordIdentities answers itself: %t, want %t", name, fast, tc.fast)
		}
	}
}

// FuzzRecordObjectsMatchDecodeManifest: for any manifest a release record may hold, the objects
// recordObjects decodes (decodeIdentities) are decodeManifest's, as their callers read them, and the
// manifest is refused exactly when decodeManifest refuses it.
func FuzzRecordObjectsMatchDecodeManifest(f *testing.F) {
	for _, golden := range []string{"istiod-sample.golden.yaml", "istiod-maximal.golden.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "render", "testdata", golden))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("---\n# Source: istiod/templates/x.yaml\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: {helm.sh/resource-policy: keep}\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmeta: &m {name: a}\nmetadata:\n  <<: *m\n  namespace: 5\n---\n- a\n"))
	f.Add([]byte("{\"apiVersion\":\"v1\",\"kind\":\"List\"}\n[1,2]\n"))
	f.Add([]byte("kind: A\nmetadata: {name: !!binary YWJj}\nspec: {1: .nan, ~: a}\n"))
	f.Add([]byte("a: [\n"))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		checkDecodeIdentities(t, "the manifest", manifest)
	})
}
