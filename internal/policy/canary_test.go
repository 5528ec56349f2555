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

package policy

import (
	"maps"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func TestEnrollmentWithCanary(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
		Injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop", "pay"}}}
	base, err := NewEnrollment(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		enrollment *Enrollment
		ns         string
		labels     map[string]string
		owned      []string
		want       map[string]string
		wantEnroll bool
	}{
		"a canary namespace gets the canary revision's label instead of istio-injection": {
			enrollment: base.WithCanary([]string{"shop"}, "1-31-1"), ns: "shop",
			labels: map[string]string{LabelIstioInjection: "enabled"}, owned: []string{LabelIstioInjection},
			want: map[string]string{LabelIstioRevision: "1-31-1"}, wantEnroll: true,
		},
		"another enrolled namespace keeps istio-injection": {
			enrollment: base.WithCanary([]string{"shop"}, "1-31-1"), ns: "pay",
			want: map[string]string{LabelIstioInjection: "enabled"}, wantEnroll: true,
		},
		"a canary namespace that is not enrolled is not labelled": {
			enrollment: base.WithCanary([]string{"other"}, "1-31-1"), ns: "other",
			want: map[string]string{},
		},
		"no canary revision yet changes nothing": {
			enrollment: base.WithCanary([]string{"shop"}, ""), ns: "shop",
			want: map[string]string{LabelIstioInjection: "enabled"}, wantEnroll: true,
		},
		"the owner's own istio.io/rev is a conflict, not overwritten": {
			enrollment: base.WithCanary([]string{"shop"}, "1-31-1"), ns: "shop",
			labels: map[string]string{LabelIstioRevision: "1-30-0"},
			want:   map[string]string{},
		},
		"a namespace labelled for the promoted canary keeps its label until the tag moves": {
			enrollment: base.WithPromotedCanary("1-31-1"), ns: "shop",
			labels: map[string]string{LabelIstioRevision: "1-31-1"}, owned: []string{LabelIstioRevision},
			want: map[string]string{LabelIstioRevision: "1-31-1"}, wantEnroll: true,
		},
		"a namespace on the active revision does not move to the promoted canary": {
			enrollment: base.WithPromotedCanary("1-31-1"), ns: "pay",
			labels: map[string]string{LabelIstioInjection: "enabled"}, owned: []string{LabelIstioInjection},
			want: map[string]string{LabelIstioInjection: "enabled"}, wantEnroll: true,
		},
		"the owner's own istio.io/rev of the promoted canary stays the owner's": {
			enrollment: base.WithPromotedCanary("1-31-1"), ns: "shop",
			labels: map[string]string{LabelIstioRevision: "1-31-1"},
			want:   map[string]string{},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := tt.enrollment.Namespace(namespace(tt.ns, tt.labels), sets.New(tt.owned...))
			if d.Enroll != tt.wantEnroll || !maps.Equal(d.Labels, tt.want) {
				t.Errorf("Namespace() = enroll %v labels %v (%s); want enroll %v labels %v", d.Enroll, d.Labels, d.Reason, tt.wantEnroll, tt.want)
			}
		})
	}
	if key, value := base.WithCanary([]string{"shop"}, "1-31-1").LabelFor("shop"); key != LabelIstioRevision || value != "1-31-1" {
		t.Errorf("LabelFor(shop) = %s=%s", key, value)
	}
}
