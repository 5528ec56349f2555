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
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// TestARecordOfManyValuesIsNotDecoded: a release record may inflate to 32 MiB, and 32 MiB of tiny JSON
// values (a forged record, from someone who may write Secrets in the control-plane namespace) would
// cost the manager hundreds of MiB once decoded. A record is counted before it is decoded, and one of
// more values than the bound is refused; the records of the built-in charts, their charts and values
// included, stay far below it.
func TestARecordOfManyValuesIsNotDecoded(t *testing.T) {
	var forged bytes.Buffer
	w := gzip.NewWriter(&forged)
	_, _ = w.Write([]byte(`{"name":"istiod","version":1,"info":{"status":"deployed"},"config":{"padding":[0`))
	_, _ = w.Write(bytes.Repeat([]byte(",0"), maxRecordNodes))
	_, _ = w.Write([]byte(`]}}`))
	_ = w.Close()
	rel, err := decodeRecord([]byte(base64.StdEncoding.EncodeToString(forged.Bytes())))
	if err == nil || !strings.Contains(err.Error(), "more than 65536 JSON values") {
		t.Errorf("a record of %d values decoded (%t), error %v; want it refused", maxRecordNodes+5, rel != nil, err)
	}

	for _, release := range builtinReleases(t) {
		chart, err := charts.Builtin(release.chart)
		if err != nil {
			t.Fatal(err)
		}
		rel := &releasev1.Release{Name: release.name, Namespace: release.namespace, Version: 1, Chart: chart, Config: release.values,
			Info: &releasev1.Info{Status: rcommon.StatusDeployed}}
		raw, err := json.Marshal(rel)
		if err != nil {
			t.Fatal(err)
		}
		n := jsonNodes(raw)
		t.Logf("the record of release %s: %d JSON values, %d bytes", release.name, n, len(raw))
		if n > maxRecordNodes/16 {
			t.Errorf("the record of release %s holds %d JSON values, more than a sixteenth of the bound", release.name, n)
		}
		secret, err := recordSecret(rel, "createdAt", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeRecord(secret.Data["release"]); err != nil || got.Chart == nil || got.Chart.Name() != chart.Name() {
			t.Errorf("the record of release %s decoded as %v, %v", release.name, got, err)
		}
	}
}

// TestJSONNodesCountsNothingInStrings: what a string holds (a manifest's commas and brackets, an
// escaped quote) begins no value.
func TestJSONNodesCountsNothingInStrings(t *testing.T) {
	for doc, want := range map[string]int{
		`{"manifest":"a: [b, c]\n\"{d, e}\" \\"}`: 2,
		`{"a":[1,2,{"b":3}],"c":"x,y"}`:           7,
		`"just, a [string]"`:                      1,
	} {
		if got := jsonNodes([]byte(doc)); got != want {
			t.Errorf("jsonNodes(%s) = %d, want %d", doc, got, want)
		}
	}
}
