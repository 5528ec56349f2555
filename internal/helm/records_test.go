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
	"strings"
	"testing"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
)

func TestRecordsRoundTrip(t *testing.T) {
	rel := &releasev1.Release{Name: "istiod", Namespace: "istio-system", Version: 3, Manifest: "---\nkind: ConfigMap\n",
		Info: &releasev1.Info{Status: rcommon.StatusDeployed, Description: "Upgrade complete"}, ApplyMethod: "ssa"}
	secret, err := recordSecret(rel, "createdAt")
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
