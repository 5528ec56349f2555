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
	networkingv1 "k8s.io/api/networking/v1"
)

// DefaultIngressClass returns the name of the cluster's default IngressClass, the one annotated
// ingressclass.kubernetes.io/is-default-class=true, or "" when there is none. With more than one
// default it also returns "": which one an Ingress without a class ends up with is then not
// something meshkeeper can know, so it does not guess.
func DefaultIngressClass(classes []networkingv1.IngressClass) string {
	name, defaults := "", 0
	for _, c := range classes {
		if c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
			name, defaults = c.Name, defaults+1
		}
	}
	if defaults != 1 {
		return ""
	}
	return name
}

// ingressClass resolves the class of an Ingress: spec.ingressClassName, else the legacy
// kubernetes.io/ingress.class annotation, else the cluster's default class. from says where the
// class came from, for messages; an empty class means the Ingress has none, or an empty annotation.
// The annotation counts when it is present, even empty, as the API server's DefaultIngressClass
// admission and ingress-nginx read it: the admission gives no default class to an Ingress that has
// it, and ingress-nginx serves such an Ingress only when the value is its own class.
func ingressClass(ing *networkingv1.Ingress, defaultClass string) (class, from string) {
	if ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName != "" {
		return *ing.Spec.IngressClassName, "spec.ingressClassName"
	}
	if legacy, ok := ing.Annotations[AnnotationIngressClass]; ok {
		return legacy, "annotation " + AnnotationIngressClass
	}
	if defaultClass != "" {
		return defaultClass, "the cluster's default IngressClass"
	}
	return "", ""
}
