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
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Only the ingress-nginx controller reads its flags: every flag meshkeeper reads of it comes from its
// container's command line, found by the executable it runs, else its image, else the charts' name
// for it. A sidecar before it, with flags of the same names, decides nothing.
func TestTheControllerContainerAloneGivesTheFlags(t *testing.T) {
	sidecar := corev1.Container{Name: "log-shipper", Image: "example.com/shipper:1",
		Args: []string{"--ingress-class=other", "--controller-class=example.com/other", "--ingress-class-by-name",
			"--watch-ingress-without-class=true", "--annotations-prefix=other.example.com"}}
	defaults := ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: DefaultIngressClass}
	type want struct {
		classes        ClassSelection
		prefix         string
		withoutClasses bool
	}
	tests := map[string]struct {
		containers []corev1.Container
		want       want
	}{
		"a sidecar first, the controller by its executable": {[]corev1.Container{sidecar,
			{Name: "controller", Image: "registry.k8s.io/ingress-nginx/controller:v1.13.0", Args: []string{"/nginx-ingress-controller", "--election-id=x"}}},
			want{defaults, DefaultAnnotationsPrefix, false}},
		"the controller's own flags after a sidecar": {[]corev1.Container{sidecar,
			{Name: "ingress", Args: []string{"/nginx-ingress-controller", "--ingress-class=internal", "--watch-ingress-without-class"}}},
			want{ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: "internal"}, DefaultAnnotationsPrefix, true}},
		// The project's image runs dumb-init --: that "--" is dumb-init's, not the controller's.
		"behind dumb-init's --": {[]corev1.Container{sidecar,
			{Name: "ingress", Command: []string{"/usr/bin/dumb-init", "--", "/nginx-ingress-controller"}, Args: []string{"--ingress-class=internal"}}},
			want{ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: "internal"}, DefaultAnnotationsPrefix, false}},
		"Bitnami's image, running its entrypoint": {[]corev1.Container{sidecar,
			{Name: "ingress", Image: "docker.io/bitnami/nginx-ingress-controller:1.13.0-debian-12-r0", Args: []string{"--ingress-class=bitnami"}}},
			want{ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: "bitnami"}, DefaultAnnotationsPrefix, false}},
		"the project's image by digest, without args": {[]corev1.Container{sidecar,
			{Name: "ingress", Image: "registry.k8s.io/ingress-nginx/controller@sha256:0123456789abcdef"}},
			want{defaults, DefaultAnnotationsPrefix, false}},
		"the charts' name, running the image's entrypoint": {[]corev1.Container{sidecar,
			{Name: "controller", Image: "registry.example.com/mirror/ingress:1", Args: []string{"--controller-class=example.com/internal"}}},
			want{ClassSelection{Found: true, ControllerClass: "example.com/internal", IngressClass: DefaultIngressClass}, DefaultAnnotationsPrefix, false}},
		"none recognised: the first container": {[]corev1.Container{
			{Name: "a", Args: []string{"--annotations-prefix=a.example.com"}}, {Name: "b", Args: []string{"--ingress-class=b"}}},
			want{defaults, "a.example.com", false}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			template := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: tt.containers}}
			got := want{ClassSelectionOf(template), AnnotationsPrefix(template), WatchesIngressesWithoutClass(template)}
			if got != tt.want {
				t.Errorf("ClassSelectionOf, AnnotationsPrefix, WatchesIngressesWithoutClass = %+v, want %+v", got, tt.want)
			}
		})
	}
}
