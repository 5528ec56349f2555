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
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// FlagWatchIngressWithoutClass is the ingress-nginx controller's flag that has it serve the Ingresses
// that name no class.
const FlagWatchIngressWithoutClass = "--watch-ingress-without-class"

// WatchesIngressesWithoutClass tells whether a pod template runs the ingress-nginx controller with
// --watch-ingress-without-class set true, as the controller's pflag reads a bool flag: the bare flag,
// or =value with a value strconv.ParseBool reads (a value it refuses stops the controller, which then
// serves nothing); the last one given counts. A container's args follow its command. Only then does
// ingress-nginx serve an Ingress without spec.ingressClassName and without the legacy annotation: it
// never reads the cluster's default IngressClass, which the API server's admission sets on Ingresses
// only as they are created. Nil (no workload) serves none.
func WatchesIngressesWithoutClass(template *corev1.PodTemplateSpec) bool {
	if template == nil {
		return false
	}
	for _, c := range template.Spec.Containers {
		watches, found := false, false
		for _, arg := range slices.Concat(c.Command, c.Args) {
			value, ok := strings.CutPrefix(arg, FlagWatchIngressWithoutClass)
			switch {
			case !ok:
				continue
			case value == "":
				watches, found = true, true
			case strings.HasPrefix(value, "="):
				on, err := strconv.ParseBool(value[1:])
				watches, found = err == nil && on, true
			}
		}
		if found && watches {
			return true
		}
	}
	return false
}

// FlagAnnotationsPrefix is the ingress-nginx controller's flag that sets the prefix of every Ingress
// annotation it reads, service-upstream and upstream-vhost among them.
const FlagAnnotationsPrefix = "--annotations-prefix"

// DefaultAnnotationsPrefix is the prefix ingress-nginx reads its Ingress annotations under without
// FlagAnnotationsPrefix: that of AnnotationServiceUpstream, AnnotationUpstreamVhost and AnnotationCanary.
const DefaultAnnotationsPrefix = "nginx.ingress.kubernetes.io"

// AnnotationsPrefix returns the prefix under which the ingress-nginx controller of a pod template reads
// the annotations of Ingresses: DefaultAnnotationsPrefix, unless a container runs it with
// FlagAnnotationsPrefix set to another (the first such container's then). The flag is read as the
// controller's pflag reads a string flag: --annotations-prefix=value, or --annotations-prefix followed by
// its value as the next argument, whatever that is; the last one given counts, and nothing after a "--"
// is a flag. A container's args follow its command. A flag without a value, last, stops the controller,
// and sets no prefix here. Nil (no workload) is the default.
func AnnotationsPrefix(template *corev1.PodTemplateSpec) string {
	if template == nil {
		return DefaultAnnotationsPrefix
	}
	for _, c := range template.Spec.Containers {
		if prefix := annotationsPrefixOf(slices.Concat(c.Command, c.Args)); prefix != DefaultAnnotationsPrefix {
			return prefix
		}
	}
	return DefaultAnnotationsPrefix
}

// annotationsPrefixOf reads FlagAnnotationsPrefix from one container's command line.
func annotationsPrefixOf(args []string) string {
	prefix := DefaultAnnotationsPrefix
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		value, ok := strings.CutPrefix(args[i], FlagAnnotationsPrefix)
		switch {
		case !ok:
		case value == "" && i+1 < len(args):
			i++
			prefix = args[i]
		case strings.HasPrefix(value, "="):
			prefix = value[1:]
		}
	}
	return prefix
}

// ingressClass resolves the class of an Ingress as ingress-nginx does: spec.ingressClassName, else the
// legacy kubernetes.io/ingress.class annotation. from says where the class came from, for messages; an
// empty class means the Ingress has none (from is ""), or an empty annotation. The annotation counts
// when it is present, even empty, as the API server's DefaultIngressClass admission and ingress-nginx
// read it: the admission gives no default class to an Ingress that has it, and ingress-nginx serves
// such an Ingress only when the value is its own class.
func ingressClass(ing *networkingv1.Ingress) (class, from string) {
	if ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName != "" {
		return *ing.Spec.IngressClassName, "spec.ingressClassName"
	}
	if legacy, ok := ing.Annotations[AnnotationIngressClass]; ok {
		return legacy, "annotation " + AnnotationIngressClass
	}
	return "", ""
}
