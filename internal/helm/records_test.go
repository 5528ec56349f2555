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
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

func TestRecordsRoundTrip(t *testing.T) {
	rel := &releasev1.Release{Name: "istiod", Namespace: "istio-system", Version: 3, Manifest: "---\nkind: ConfigMap\n",
		Info: &releasev1.Info{Status: rcommon.StatusDeployed, Description: "Upgrade complete"}, ApplyMethod: "ssa"}
	secret, err := recordSecret(rel, "createdAt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if secret.Name != "sh.helm.release.v1.istiod.v3" || secret.Type != "helm.sh/release.v1" {
		t.Errorf("record Secret %s of type %s", secret.Name, secret.Type)
	}
	for k, v := range map[string]string{"name": "istiod", "owner": "helm", "status": "deployed", "version": "3"} {
		if secret.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, secret.Labels[k], v)
		}
	}
	got, err := decodeRecord(secret.Data["release"])
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != rel.Name || got.Version != rel.Version || got.Manifest != rel.Manifest || got.Info.Status != rcommon.StatusDeployed {
		t.Errorf("decoded %+v, want %+v", got, rel)
	}
}

// secretsOf serves one Secret to Helm's secrets driver, which reads it as the helm CLI does.
type secretsOf struct {
	typedcorev1.SecretInterface
	secret *corev1.Secret
}

func (s secretsOf) Get(_ context.Context, name string, _ metav1.GetOptions) (*corev1.Secret, error) {
	if name != s.secret.Name {
		return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
	}
	return s.secret, nil
}

// An install stores its record twice with one compressed chart and manifest: Helm reads both, for a
// release with or without a chart or manifest, as what was stored.
func TestRecordsShareTheirBodyAndHelmReadsThem(t *testing.T) {
	chart := &chartv2.Chart{Metadata: &chartv2.Metadata{Name: "base", Version: "1.31.1", APIVersion: "v2"},
		Templates: []*common.File{{Name: "templates/crds.yaml", Data: []byte("{{ .Files.Get \"files/crd-all.gen.yaml\" }}")}},
		Files:     []*common.File{{Name: "files/crd-all.gen.yaml", Data: []byte("kind: CustomResourceDefinition\n<&>\n")}}}
	for name, tc := range map[string]struct {
		chart    *chartv2.Chart
		manifest string
		config   map[string]any
	}{
		"chart and manifest": {chart, "---\nkind: ConfigMap\ndata: {a: \"<b>\"}\n", map[string]any{"global": map[string]any{"hub": "x"}}},
		"chart only":         {chart, "", nil},
		"manifest only":      {nil, "---\nkind: ConfigMap\n", nil},
		"neither":            {nil, "", nil},
	} {
		t.Run(name, func(t *testing.T) {
			rel := &releasev1.Release{Name: "istio-base", Namespace: "istio-system", Version: 2, Chart: tc.chart,
				Manifest: tc.manifest, Config: tc.config, ApplyMethod: "ssa",
				Info: &releasev1.Info{Status: rcommon.StatusPendingInstall, Description: "Initial install underway"}}
			body, err := newRecordBody(rel, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, status := range []rcommon.Status{rcommon.StatusPendingInstall, rcommon.StatusDeployed} {
				rel.SetStatus(status, "now "+status.String())
				secret, err := recordSecret(rel, "modifiedAt", body)
				if err != nil {
					t.Fatal(err)
				}
				// Each is what encoding the release alone gives.
				alone, err := recordSecret(rel, "modifiedAt", nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(secret.Data["release"], alone.Data["release"]) {
					t.Errorf("%s: the record with a shared body differs from the release encoded alone", status)
				}
				read, err := driver.NewSecrets(secretsOf{secret: secret}).Get(secret.Name)
				if err != nil {
					t.Fatalf("%s: Helm cannot read the record: %v", status, err)
				}
				got, ok := read.(*releasev1.Release)
				if !ok {
					t.Fatalf("%s: Helm read a %T", status, read)
				}
				got.Labels = nil
				want := *rel
				want.Info = &releasev1.Info{Status: status, Description: "now " + status.String()}
				if got.Info == nil || got.Info.Status != status || got.Info.Description != want.Info.Description {
					t.Errorf("%s: Helm read the info %+v", status, got.Info)
				}
				got.Info = want.Info
				gotJSON, _ := json.Marshal(got)
				wantJSON, _ := json.Marshal(&want)
				if !bytes.Equal(gotJSON, wantJSON) {
					t.Errorf("%s: Helm read\n%s\nwant\n%s", status, gotJSON, wantJSON)
				}
			}
		})
	}
}

// TestChartMembersKeepsTheChartsInUse: a chart's member is compressed once while it is among the
// charts in use, shared by every record of it and never changed by one; past maxChartMembers charts,
// the least recently used is dropped.
func TestChartMembersKeepsTheChartsInUse(t *testing.T) {
	newChart := func(i int) *chartv2.Chart {
		return &chartv2.Chart{Metadata: &chartv2.Metadata{Name: fmt.Sprintf("chart-%d", i), Version: "1.0.0", APIVersion: "v2"}}
	}
	charts := &chartMembers{}
	first := newChart(0)
	kept, err := charts.member(first)
	if err != nil {
		t.Fatal(err)
	}
	original := bytes.Clone(kept)
	// A record with a manifest appends to its own copy.
	body, err := newRecordBody(&releasev1.Release{Chart: first, Manifest: "---\nkind: ConfigMap\n"}, charts)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := charts.member(first); &again[0] != &kept[0] || !bytes.Equal(again, original) {
		t.Fatal("the chart's member was compressed again or changed by a record")
	}
	if !bytes.HasPrefix(body.compressed, original) || len(body.compressed) == len(original) {
		t.Fatal("the record's body is not the chart's member followed by the manifest's")
	}
	// Other charts come into use; the first stays while it is used, then is the one dropped.
	for i := 1; i < maxChartMembers; i++ {
		if _, err := charts.member(newChart(i)); err != nil {
			t.Fatal(err)
		}
	}
	if again, _ := charts.member(first); &again[0] != &kept[0] {
		t.Fatal("a chart in use was dropped")
	}
	if _, err := charts.member(newChart(maxChartMembers)); err != nil {
		t.Fatal(err)
	}
	if len(charts.entries) != maxChartMembers {
		t.Fatalf("%d charts kept, want %d", len(charts.entries), maxChartMembers)
	}
	for _, e := range charts.entries {
		if e.chart.Metadata.Name == "chart-1" {
			t.Fatal("the least recently used chart was kept")
		}
	}
	if again, _ := charts.member(first); &again[0] != &kept[0] {
		t.Fatal("the most recently used chart was dropped")
	}
}

// TestTheBaseRecordIsCompressed: the base chart's record, written twice per install or upgrade, is
// compressed below 300 KB (the fastest gzip level wrote 345 KB of it).
func TestTheBaseRecordIsCompressed(t *testing.T) {
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		t.Fatal(err)
	}
	objects := builtinObjects(t)[charts.Base]
	manifest, err := encodeManifest(objects)
	if err != nil {
		t.Fatal(err)
	}
	body, err := newRecordBody(&releasev1.Release{Name: "istio-base", Chart: chart, Manifest: manifest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if size := len(body.compressed); size > 300<<10 {
		t.Errorf("the base chart's chart and manifest compress to %d KB, over 300 KB", size>>10)
	}
}

func TestDecodeRecordRefusesWhatMeshkeeperDidNotWrite(t *testing.T) {
	var bomb bytes.Buffer
	w := gzip.NewWriter(&bomb)
	_, _ = w.Write([]byte(`{"name":"x","manifest":"`))
	_, _ = w.Write(bytes.Repeat([]byte("a"), maxRecordBytes))
	_, _ = w.Write([]byte(`"}`))
	_ = w.Close()
	for name, data := range map[string]string{
		"not base64":            "%%%",
		"a gzip bomb":           base64.StdEncoding.EncodeToString(bomb.Bytes()),
		"JSON without its info": base64.StdEncoding.EncodeToString([]byte(`{"name":"x","version":1}`)),
	} {
		if _, err := decodeRecord([]byte(data)); err == nil {
			t.Errorf("%s: decoded", name)
		} else if name == "a gzip bomb" && !strings.Contains(err.Error(), "inflates beyond") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCurrentRevisionIsTheOneHelmReplaces(t *testing.T) {
	h := func(version int, status rcommon.Status) Head { return Head{Version: version, Status: status} }
	for name, tc := range map[string]struct {
		heads []Head
		want  int
	}{
		"the last, deployed":                   {[]Head{h(1, rcommon.StatusSuperseded), h(2, rcommon.StatusDeployed)}, 2},
		"the deployed one before a failed one": {[]Head{h(1, rcommon.StatusDeployed), h(2, rcommon.StatusFailed)}, 1},
		"a failed last, none deployed":         {[]Head{h(1, rcommon.StatusSuperseded), h(2, rcommon.StatusFailed)}, 2},
		"a pending last, none deployed":        {[]Head{h(1, rcommon.StatusSuperseded), h(2, rcommon.StatusPendingUpgrade)}, 0},
		"none":                                 {nil, 0},
	} {
		got := currentRevision(tc.heads)
		if (got == nil && tc.want != 0) || (got != nil && got.Version != tc.want) {
			t.Errorf("%s: current revision %v, want %d", name, got, tc.want)
		}
	}
}

// TestCompressAtReusesItsWriters: a member written by a writer compressAt kept from an earlier use is
// the member a new writer writes, at each level the chart manager uses, and reads back.
func TestCompressAtReusesItsWriters(t *testing.T) {
	parts := [][]byte{[]byte(`{"manifest":`), []byte(strings.Repeat(`"apiVersion: v1\nkind: ConfigMap\n"`, 500))}
	for _, level := range []int{gzip.BestSpeed, recordLevel} {
		var fresh bytes.Buffer
		w, err := gzip.NewWriterLevel(&fresh, level)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range parts {
			_, _ = w.Write(part)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			var buf bytes.Buffer
			buf.WriteString("prefix")
			if err := compressAt(&buf, level, parts...); err != nil {
				t.Fatal(err)
			}
			if got := bytes.TrimPrefix(buf.Bytes(), []byte("prefix")); !bytes.Equal(got, fresh.Bytes()) {
				t.Fatalf("level %d, use %d: compressAt wrote %d bytes unlike a new writer's %d", level, i, len(got), fresh.Len())
			}
		}
	}
	if err := compressAt(&bytes.Buffer{}, 10, parts...); err == nil {
		t.Error("compressAt took level 10")
	}
}
