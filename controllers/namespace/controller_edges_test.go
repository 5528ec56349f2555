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

package namespace

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// withOtherOwnedLabels gives up or changes only the injection labels: an injection label meshkeeper
// owns and no longer wants goes, whichever revision it named, and every other label meshkeeper owns
// keeps its value.
func TestWithOtherOwnedLabels(t *testing.T) {
	const createdBy = "mesh.meshkeeper.io/created-by"
	tests := map[string]struct {
		labels    map[string]string
		owned     []string
		injection map[string]string
		want      map[string]string
	}{
		"an owned istio-injection label no longer wanted is given up": {
			labels: map[string]string{policy.LabelIstioInjection: "enabled", createdBy: "mesh", "team": "shop"},
			owned:  []string{policy.LabelIstioInjection, createdBy}, injection: map[string]string{},
			want: map[string]string{createdBy: "mesh"},
		},
		"an owned istio.io/rev label no longer wanted is given up": {
			labels: map[string]string{policy.LabelIstioRevision: "1-30-0", createdBy: "mesh"},
			owned:  []string{policy.LabelIstioRevision, createdBy}, injection: map[string]string{},
			want: map[string]string{createdBy: "mesh"},
		},
		"a revision change replaces the injection label and keeps the others": {
			labels:    map[string]string{policy.LabelIstioInjection: "enabled", createdBy: "mesh"},
			owned:     []string{policy.LabelIstioInjection, createdBy},
			injection: map[string]string{policy.LabelIstioRevision: "1-30-0"},
			want:      map[string]string{policy.LabelIstioRevision: "1-30-0", createdBy: "mesh"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: tt.labels}}
			if got := withOtherOwnedLabels(ns, sets.New(tt.owned...), tt.injection); !maps.Equal(got, tt.want) {
				t.Errorf("withOtherOwnedLabels() = %v, want %v", got, tt.want)
			}
		})
	}
}
