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
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// FlagWatchIngressWithoutClass is the ingress-nginx controller's flag that has it serve the Ingresses
// that name no class.
const FlagWatchIngressWithoutClass = "--watch-ingress-without-class"

// controllerProgram is the ingress-nginx controller's executable, /nginx-ingress-controller in its images.
const controllerProgram = "nginx-ingress-controller"

// controllerContainerName is the name the ingress-nginx charts, the project's and Bitnami's, give the
// controller's container.
const controllerContainerName = "controller"

// controllerArgs returns the command line whose flags the ingress-nginx controller of a pod template
// parses: that of its controller container, whose command is followed by its args. Every flag
// meshkeeper reads of the controller is read from it alone: only the controller reads them, so a
// sidecar's command line decides nothing, whatever flags it gives. The controller container is the
// first that runs the controller's executable by name (the arguments after the name are then its
// flags, so the "--" of a wrapper before it, as dumb-init's, ends none of them); else the first of a
// controller image (controllerImage), else the first named as the charts name it, either running the
// image's entrypoint (their whole command line is then the controller's); else the first container,
// the one kubectl too takes by default. Nil (no workload) has none.
func controllerArgs(template *corev1.PodTemplateSpec) []string {
	if template == nil || len(template.Spec.Containers) == 0 {
		return nil
	}
	containers := template.Spec.Containers
	for _, c := range containers {
		args := slices.Concat(c.Command, c.Args)
		if i := slices.IndexFunc(args, runsController); i >= 0 {
			return args[i+1:]
		}
	}
	i := slices.IndexFunc(containers, func(c corev1.Container) bool { return controllerImage(c.Image) })
	if i < 0 {
		i = slices.IndexFunc(containers, func(c corev1.Container) bool { return c.Name == controllerContainerName })
	}
	c := containers[max(i, 0)]
	return slices.Concat(c.Command, c.Args)
}

// runsController tells whether an argument of a command line is the controller's executable.
func runsController(arg string) bool {
	return !strings.HasPrefix(arg, "-") && arg[strings.LastIndex(arg, "/")+1:] == controllerProgram
}

// controllerImage tells whether an image is one of the ingress-nginx controller: the project's
// (ingress-nginx/controller, and controller-chroot) or one named after its executable, as Bitnami's is,
// whatever its registry, tag or digest.
func controllerImage(image string) bool {
	repository, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(repository, ":"); i > strings.LastIndex(repository, "/") {
		repository = repository[:i]
	}
	owner, name := "", repository
	if i := strings.LastIndex(repository, "/"); i >= 0 {
		owner, name = repository[strings.LastIndex(repository[:i], "/")+1:i], repository[i+1:]
	}
	return name == controllerProgram || owner == "ingress-nginx" && (name == "controller" || name == "controller-chroot")
}

// WatchesIngressesWithoutClass tells whether a pod template runs the ingress-nginx controller with
// --watch-ingress-without-class set true, as the controller's pflag reads a bool flag (boolFlag) from
// its command line (controllerArgs): the bare flag, or =value with a value strconv.ParseBool reads (a
// value it refuses stops the controller, which then serves nothing); the last one given counts, and
// nothing after a "--" that is no flag's value is a flag (controllerFlags). Only then does
// ingress-nginx serve an Ingress without spec.ingressClassName and without the legacy annotation: it
// never reads the cluster's default IngressClass, which the API server's admission sets on Ingresses
// only as they are created. Nil (no workload) serves none.
func WatchesIngressesWithoutClass(template *corev1.PodTemplateSpec) bool {
	return boolFlag(controllerArgs(template), FlagWatchIngressWithoutClass)
}

// FlagAnnotationsPrefix is the ingress-nginx controller's flag that sets the prefix of every Ingress
// annotation it reads, service-upstream and upstream-vhost among them.
const FlagAnnotationsPrefix = "--annotations-prefix"

// DefaultAnnotationsPrefix is the prefix ingress-nginx reads its Ingress annotations under without
// FlagAnnotationsPrefix: that of AnnotationServiceUpstream, AnnotationUpstreamVhost and AnnotationCanary.
const DefaultAnnotationsPrefix = "nginx.ingress.kubernetes.io"

// AnnotationsPrefix returns the prefix under which the ingress-nginx controller of a pod template reads
// the annotations of Ingresses: DefaultAnnotationsPrefix, unless its command line (controllerArgs)
// sets FlagAnnotationsPrefix to another. The flag is read as the controller's pflag reads a string flag
// (stringFlag): --annotations-prefix=value, or --annotations-prefix followed by its value as the next
// argument, whatever that is; the last one given counts, and nothing after a "--" that is no flag's
// value is a flag (controllerFlags). A command line pflag refuses (a flag without a value, last) stops
// the controller, and sets no prefix here. Nil (no workload) is the default.
func AnnotationsPrefix(template *corev1.PodTemplateSpec) string {
	return stringFlag(controllerArgs(template), FlagAnnotationsPrefix, DefaultAnnotationsPrefix)
}

// stringFlag reads a string flag from the controller's command line (controllerArgs) as its pflag
// reads it (controllerFlags): flag=value, or flag followed by its value as the next argument, whatever
// that is; the last one given counts. Not given, or on a command line pflag refuses, it is def.
func stringFlag(args []string, flag, def string) string {
	flags, ok := controllerFlags(args)
	if value, given := flags[strings.TrimPrefix(flag, "--")]; ok && given {
		return value
	}
	return def
}

// boolFlag reads a bool flag from the controller's command line (controllerArgs) as its pflag reads it
// (controllerFlags): the bare flag, or =value with a value strconv.ParseBool reads; the last one given
// counts. Not given, or on a command line pflag refuses, it is false.
func boolFlag(args []string, flag string) bool {
	flags, ok := controllerFlags(args)
	on, err := strconv.ParseBool(flags[strings.TrimPrefix(flag, "--")])
	return ok && err == nil && on
}

// controllerBoolFlags are the names of the ingress-nginx controller's flags that take no value of their
// own: its bool flags, of every release since 0.10, and those of klog (glog before it), whose flags it
// parses with its own. pflag gives a bare one "true", and reads the next argument as an argument of its
// own; every other flag given without "=" takes the next argument as its value.
var controllerBoolFlags = sets.New(
	"deep-inspect", "disable-catch-all", "disable-full-test", "disable-leader-election", "disable-node-list",
	"disable-svc-external-name", "disable-sync-events", "enable-annotation-validation", "enable-dynamic-certificates",
	"enable-dynamic-configuration", "enable-metrics", "enable-ssl-chain-completion", "enable-ssl-passthrough",
	"enable-topology-aware-routing", "force-namespace-isolation", "ingress-class-by-name", "metrics-per-host",
	"metrics-per-undefined-host", "profiling", "report-node-internal-ip-address", "report-status-classes",
	"sort-backends", "update-status", "update-status-on-shutdown", "version", "watch-ingress-without-class",
	"add_dir_header", "alsologtostderr", "legacy_stderr_threshold_behavior", "logtostderr", "one_output",
	"skip_headers", "skip_log_headers",
)

// controllerShorthand is the one shorthand of the controller's flags, klog's -v, which takes a value.
const controllerShorthand = 'v'

// controllerFlags reads the flags of the controller's command line (controllerArgs) as its pflag
// parses them: by name, without the dashes, the value of the last one given. It walks the arguments
// one by one:
//   - an argument that is no flag ("-" alone, or one without a leading "-") is positional, and the walk
//     goes on past it;
//   - --name=value gives name that value;
//   - a bare --name gives "true" to a bool flag (controllerBoolFlags), and takes the next argument as
//     its value for any other flag, whatever that argument is: "--", or a flag;
//   - "--" ends the flags, where it is not a value: the arguments after it are positional;
//   - -v, klog's verbosity, takes a value (-v=2, -v2, or the next argument); -test.<anything> is
//     skipped, as pflag skips go test's flags.
//
// ok is false when pflag refuses the command line, and the controller then exits as it starts: a flag
// without a value, last; a bool flag with a value strconv.ParseBool refuses; ---name, --=value; a
// shorthand other than -v (-h, help, too). The values of the other flags are not checked, nor whether
// the controller knows a long flag.
func controllerFlags(args []string) (flags map[string]string, ok bool) {
	flags = map[string]string{}
	for len(args) > 0 {
		arg := args[0]
		args = args[1:]
		switch {
		case len(arg) < 2 || arg[0] != '-':
			continue
		case arg == "--":
			return flags, true
		case arg[1] != '-':
			shorthands := arg[1:]
			switch {
			case strings.HasPrefix(shorthands, "test."):
				continue
			case shorthands[0] != controllerShorthand:
				return flags, false
			case len(shorthands) > 2 && shorthands[1] == '=':
				flags["v"] = shorthands[2:]
			case len(shorthands) > 1:
				flags["v"] = shorthands[1:]
			case len(args) > 0:
				flags["v"], args = args[0], args[1:]
			default:
				return flags, false
			}
			continue
		}
		name, value, hasValue := strings.Cut(arg[2:], "=")
		switch {
		case name == "" || name[0] == '-' || name == "help":
			return flags, false
		case hasValue:
		case controllerBoolFlags.Has(name):
			value = "true"
		case len(args) > 0:
			value, args = args[0], args[1:]
		default:
			return flags, false
		}
		if controllerBoolFlags.Has(name) {
			if _, err := strconv.ParseBool(value); err != nil {
				return flags, false
			}
		}
		flags[name] = value
	}
	return flags, true
}

// FlagKubeconfig is the ingress-nginx controller's flag that has it talk to the API server with the
// credentials of a kubeconfig file instead of its service account's.
const FlagKubeconfig = "--kubeconfig"

// ServiceAccountOf returns the service account as which the ingress-nginx controller of a pod template
// talks to the API server: the pod's (spec.serviceAccountName, else the deprecated
// spec.serviceAccount, else "default"). ok is false when its command line (controllerArgs) sets
// FlagKubeconfig, whose credentials are someone else's, and for no workload.
func ServiceAccountOf(template *corev1.PodTemplateSpec) (name string, ok bool) {
	if template == nil || stringFlag(controllerArgs(template), FlagKubeconfig, "") != "" {
		return "", false
	}
	for _, name := range []string{template.Spec.ServiceAccountName, template.Spec.DeprecatedServiceAccount} {
		if name != "" {
			return name, true
		}
	}
	return "default", true
}

// The ingress-nginx controller's flags that choose the Ingresses it serves by their class, besides
// FlagWatchIngressWithoutClass.
const (
	// FlagControllerClass is the spec.controller of the IngressClasses whose Ingresses it serves.
	FlagControllerClass = "--controller-class"
	// FlagIngressClass is the class of the Ingresses it serves by the legacy kubernetes.io/ingress.class
	// annotation, and, with FlagIngressClassByName, the name of an IngressClass it serves whatever
	// that IngressClass's spec.controller.
	FlagIngressClass = "--ingress-class"
	// FlagIngressClassByName has it serve the IngressClass named FlagIngressClass too.
	FlagIngressClassByName = "--ingress-class-by-name"
)

// The defaults of FlagControllerClass and FlagIngressClass.
const (
	DefaultControllerClass = "k8s.io/ingress-nginx"
	DefaultIngressClass    = "nginx"
)

// ClassSelection is how an ingress-nginx controller picks the Ingresses it serves by their class, read
// from its pod template's flags (ClassSelectionOf). The zero value, of no workload, serves none.
type ClassSelection struct {
	// Found: the controller's workload exists, and the fields below are read from its pod template.
	Found bool
	// ControllerClass is its FlagControllerClass: it serves the Ingresses of spec.ingressClassName X when
	// the IngressClass X exists with this spec.controller.
	ControllerClass string
	// IngressClass is its FlagIngressClass: it serves the Ingresses whose legacy annotation (without
	// spec.ingressClassName) has this value, and, with ByName, those of the IngressClass of this name.
	IngressClass string
	// ByName is its FlagIngressClassByName.
	ByName bool
	// IgnoresClassName: the controller's service account may not list IngressClasses
	// (PodTemplateInput.IngressClassesForbidden). ingress-nginx lists them as it starts, and on a
	// Forbidden answer turns its IngressClass support off: it then ignores spec.ingressClassName, and
	// judges every Ingress by the legacy annotation alone, or as one without a class (ClassOf).
	IgnoresClassName bool
}

// ClassSelectionOf reads how the ingress-nginx controller of a pod template picks its Ingresses by
// class: FlagControllerClass, FlagIngressClass and FlagIngressClassByName, each read from its command
// line (controllerArgs) as the controller's pflag reads it (stringFlag, boolFlag); their defaults when
// it does not give them. Nil (no workload) is the zero value.
func ClassSelectionOf(template *corev1.PodTemplateSpec) ClassSelection {
	if template == nil {
		return ClassSelection{}
	}
	args := controllerArgs(template)
	return ClassSelection{Found: true, ControllerClass: stringFlag(args, FlagControllerClass, DefaultControllerClass),
		IngressClass: stringFlag(args, FlagIngressClass, DefaultIngressClass), ByName: boolFlag(args, FlagIngressClassByName)}
}

// Serves tells whether the controller serves an Ingress of class (from, as ClassOf resolves them)
// as ingress-nginx's store decides it (GetIngressClass): of spec.ingressClassName, when the IngressClass
// of that name exists (controllerOf finds it, with its spec.controller) and either names
// ControllerClass, or, with ByName, is named IngressClass; of the legacy annotation, when its value is
// IngressClass. An Ingress without a class is not judged here (WatchesIngressesWithoutClass). Why it is
// served is said by the returned explanation, for messages.
func (s ClassSelection) Serves(class, from string, controllerOf func(name string) (string, bool)) (bool, string) {
	switch {
	case !s.Found || class == "":
		return false, ""
	case from == "annotation "+AnnotationIngressClass:
		if class == s.IngressClass {
			return true, fmt.Sprintf("its %s is %q", FlagIngressClass, class)
		}
		return false, ""
	}
	if controllerOf == nil {
		return false, ""
	}
	controller, found := controllerOf(class)
	switch {
	case !found:
		return false, ""
	case controller == s.ControllerClass:
		return true, fmt.Sprintf("IngressClass %s names controller %q, its %s", class, controller, FlagControllerClass)
	case s.ByName && class == s.IngressClass:
		return true, fmt.Sprintf("it runs with %s and its %s is %q", FlagIngressClassByName, FlagIngressClass, class)
	}
	return false, ""
}

// ServesAnnotation tells whether the controller serves an Ingress whose class, as ClassOf resolves it,
// is class from where: false only for one of the legacy annotation that is not its FlagIngressClass,
// the one value of the annotation ingress-nginx serves (GetIngressClass), whether or not it reads
// spec.ingressClassName. Without the controller's workload (not Found) its flags are unknown, and the
// annotation is taken as it is.
func (s ClassSelection) ServesAnnotation(class, from string) bool {
	return !s.Found || from != "annotation "+AnnotationIngressClass || class == s.IngressClass
}

// ClassNameNote says, of a controller that ignores spec.ingressClassName (IgnoresClassName), which
// Ingresses it serves instead and how to have it read spec.ingressClassName again, for the messages
// about it; "" for any other. It starts with ". ", to follow a clause.
func (s ClassSelection) ClassNameNote(spec meshv1alpha1.IngressNginxSpec) string {
	if !s.IgnoresClassName {
		return ""
	}
	return fmt.Sprintf(". Its service account may not list IngressClasses, and ingress-nginx, which lists them as it starts, then ignores "+
		"spec.ingressClassName: it serves the Ingresses whose %s annotation is %q (its %s) and, only with %s=true, those without the annotation, "+
		"whatever their spec.ingressClassName; meshkeeper configures the mesh Ingresses among those. To have it serve Ingresses by "+
		"spec.ingressClassName, allow its service account to get, list and watch ingressclasses.networking.k8s.io "+
		"(the ingress-nginx chart's ClusterRole does, unless rbac.scope is true) and restart %s",
		AnnotationIngressClass, s.IngressClass, FlagIngressClass, FlagWatchIngressWithoutClass, workloadName(spec))
}

// ClassOf resolves the class of an Ingress as the controller does: spec.ingressClassName, else the
// legacy kubernetes.io/ingress.class annotation; the annotation alone when it ignores
// spec.ingressClassName (IgnoresClassName). from says where the class came from, for messages; an
// empty class means the Ingress has none (from is ""), or an empty annotation. The annotation counts
// when it is present, even empty, as the API server's DefaultIngressClass admission and ingress-nginx
// read it: the admission gives no default class to an Ingress that has it, and ingress-nginx serves
// such an Ingress only when the value is its own class.
func (s ClassSelection) ClassOf(ing *networkingv1.Ingress) (class, from string) {
	if ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName != "" && !s.IgnoresClassName {
		return *ing.Spec.IngressClassName, "spec.ingressClassName"
	}
	if legacy, ok := ing.Annotations[AnnotationIngressClass]; ok {
		return legacy, "annotation " + AnnotationIngressClass
	}
	return "", ""
}

// The ingress-nginx controller's flags that choose the namespaces whose Ingresses it serves (the
// ingress-nginx chart's controller.scope): it watches the Ingresses of no other namespace.
const (
	// FlagWatchNamespace is the one namespace it watches; empty, every namespace.
	FlagWatchNamespace = "--watch-namespace"
	// FlagWatchNamespaceSelector is a label selector: it watches the namespaces whose labels match it.
	FlagWatchNamespaceSelector = "--watch-namespace-selector"
)

// NamespaceScope is which namespaces' Ingresses an ingress-nginx controller serves, read from its pod
// template's flags (NamespaceScopeOf). The zero value, of a controller run without them (or of no
// workload), watches every namespace.
type NamespaceScope struct {
	// Namespace is its FlagWatchNamespace: it serves the Ingresses of this namespace only. "": every
	// namespace.
	Namespace string
	// Selector is its FlagWatchNamespaceSelector as given: it serves the Ingresses of the namespaces
	// whose labels match it. "": every namespace.
	Selector string
	// Refused says why the controller refuses its namespace flags as it starts (both given, or a
	// selector that does not parse): it then exits, and serves no Ingress at all. "" otherwise.
	Refused string
}

// NamespaceScopeOf reads which namespaces the ingress-nginx controller of a pod template watches:
// FlagWatchNamespace and FlagWatchNamespaceSelector, each read from its command line (controllerArgs)
// as the controller's pflag reads a string flag (stringFlag), and judged as ingress-nginx judges them
// as it starts: both non-empty, or a selector k8s.io/apimachinery's labels.Parse refuses, stop it
// (Refused); a selector that parses to none (blanks) selects every namespace. Nil (no workload), and a
// command line pflag refuses, watch every namespace here.
func NamespaceScopeOf(template *corev1.PodTemplateSpec) NamespaceScope {
	args := controllerArgs(template)
	scope := NamespaceScope{Namespace: stringFlag(args, FlagWatchNamespace, ""), Selector: stringFlag(args, FlagWatchNamespaceSelector, "")}
	switch {
	case scope.Namespace != "" && scope.Selector != "":
		scope.Refused = fmt.Sprintf("it runs with both %s and %s, which ingress-nginx refuses as it starts", FlagWatchNamespace, FlagWatchNamespaceSelector)
	case scope.Selector != "":
		if _, err := labels.Parse(scope.Selector); err != nil {
			scope.Refused = fmt.Sprintf("its %s %q does not parse (%v), which ingress-nginx refuses as it starts", FlagWatchNamespaceSelector, scope.Selector, err)
		}
	}
	return scope
}

// Watches tells whether the controller serves the Ingresses of namespace, whose labels (as the cache
// holds them) are namespaceLabels, as ingress-nginx decides it: none when it refuses its flags
// (Refused), those of Namespace alone when it is set, those of the namespaces whose labels match
// Selector when it is set, else every namespace's. When it does not, why is said by the returned
// clause, for messages.
func (s NamespaceScope) Watches(namespace string, namespaceLabels map[string]string) (bool, string) {
	// Parsed here, so that the decisions about the controller stay comparable; it parses, or Refused is
	// set.
	selector, _ := labels.Parse(s.Selector)
	switch {
	case s.Refused != "":
		return false, s.Refused + ": it exits, and serves no Ingress"
	case s.Namespace != "" && namespace != s.Namespace:
		return false, fmt.Sprintf("it watches namespace %s only (its %s)", s.Namespace, FlagWatchNamespace)
	case s.Selector != "" && !selector.Empty() && !selector.Matches(labels.Set(namespaceLabels)):
		return false, fmt.Sprintf("it watches only the namespaces whose labels match %q (its %s), and namespace %s's do not",
			s.Selector, FlagWatchNamespaceSelector, namespace)
	}
	return true, ""
}

// Note says, of a controller that refuses its namespace flags (Refused), that it serves no Ingress and
// how to have it serve them, for the messages about it; "" for any other. It starts with ". ", to
// follow a clause.
func (s NamespaceScope) Note() string {
	if s.Refused == "" {
		return ""
	}
	return fmt.Sprintf(". But %s: it exits, and serves no Ingress, so no Ingress is a mesh Ingress. Give it %s or %s, not both, "+
		"with a selector that parses", s.Refused, FlagWatchNamespace, FlagWatchNamespaceSelector)
}
