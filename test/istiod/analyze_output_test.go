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

package istiod

import (
	"encoding/json"
	"slices"
	"testing"
)

// istioctlOutput is what istioctl analyze -o json printed for a mesh config with a deprecated proxy
// flag: the validation warning as log lines, then the messages.
const istioctlOutput = `2026-11-30T12:23:42.470354Z	warn	warnings occurred during mesh validation: 1 error occurred:
	* 'ISTIO_META_DNS_AUTO_ALLOCATE' is deprecated; review https://istio.io/latest/docs/ops/configuration/traffic-management/dns-proxy/#dns-auto-allocation-v2 for information about replacement functionality


[
	{
		"code": "IST0102",
		"level": "Info",
		"message": "The namespace is not enabled for Istio injection.",
		"origin": "Namespace default"
	}
]
`

func TestAnalyzeOutputIsSplitIntoLogAndMessages(t *testing.T) {
	logged, list := splitJSONList(istioctlOutput)
	var messages []AnalysisMessage
	if err := json.Unmarshal([]byte(list), &messages); err != nil {
		t.Fatalf("the messages do not parse: %v\n%s", err, list)
	}
	if len(messages) != 1 || messages[0].Code != "IST0102" || messages[0].Origin != "Namespace default" {
		t.Errorf("messages %+v", messages)
	}
	warnings := MeshConfigWarnings(logged)
	want := []string{"2026-11-30T12:23:42.470354Z	warn	warnings occurred during mesh validation: 1 error occurred: " +
		"* 'ISTIO_META_DNS_AUTO_ALLOCATE' is deprecated; review https://istio.io/latest/docs/ops/configuration/traffic-management/dns-proxy/#dns-auto-allocation-v2 for information about replacement functionality"}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings %q, want %q", warnings, want)
	}

	// Output without log lines, and a log without warnings.
	if logged, list := splitJSONList("[]\n"); logged != "" || list != "[]\n" {
		t.Errorf("split of a bare list: %q, %q", logged, list)
	}
	if w := MeshConfigWarnings("2026-11-30T12:23:42Z\tinfo\tads\tPush debounce stable\n"); w != nil {
		t.Errorf("warnings in a log without any: %q", w)
	}
}

func TestAnalysisAtLeast(t *testing.T) {
	a := Analysis{Messages: []AnalysisMessage{{Code: "A", Level: "Info"}, {Code: "B", Level: "Warning"}, {Code: "C", Level: "Error"}}}
	codes := func(ms []AnalysisMessage) (out []string) {
		for _, m := range ms {
			out = append(out, m.Code)
		}
		return out
	}
	if got := codes(a.AtLeast("Warning")); !slices.Equal(got, []string{"B", "C"}) {
		t.Errorf("AtLeast(Warning) = %v", got)
	}
	if got := codes(a.AtLeast("Error")); !slices.Equal(got, []string{"C"}) {
		t.Errorf("AtLeast(Error) = %v", got)
	}
}
