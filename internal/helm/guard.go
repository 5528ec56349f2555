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
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ErrRefusedObject is in the error of a release whose chart renders an object the chart guard refuses.
var ErrRefusedObject = errors.New("refused by meshkeeper's chart guard")

// The rules of the chart guard, as its errors name them. meshkeeper applies a release's objects with
// rights close to cluster-admin, and of a chart from a repository it checks only the name, version and
// digest: what the chart renders is not otherwise vetted. So every object a release renders passes these
// rules before anything of the release is applied, for every chart, the built-in ones too (which pass
// them unchanged).
const (
	ruleNamespace = "a namespaced object only in the release namespace"
	ruleKind      = "only the kinds Istio's base, istiod and cni charts render, and CustomResourceDefinitions only of istio.io API groups"
	ruleBinding   = "a binding grants only a role of its own release, and only to ServiceAccounts of the release namespace"
	ruleRole      = "a role grants neither escalate, bind nor impersonate, no verb * on every resource or on roles and identities, " +
		"no create of ServiceAccount tokens, no exec or attach into pods and no kubelet API (nodes/proxy), " +
		"approval only for named signers outside kubernetes.io/, and takes no part in aggregation"
	ruleAdmission = "an admission webhook or a CustomResourceDefinition's conversion webhook calls only a Service in the release namespace, " +
		"a policy binding binds only a policy of its own release, and a policy reads no parameters (paramKind)"
	ruleImage = "a workload's containers pull only from the image hubs the operator's installer allowed (--allowed-image-hubs), " +
		"as do its image volumes, and it mounts no gitRepo volume"
	ruleEnv = "a container sets no variable twice, EXTERNAL_ISTIOD not at all, and CA_TRUSTED_NODE_ACCOUNTS only to one ServiceAccount of the release namespace (its ztunnel's), " +
		"and takes variables in bulk (envFrom) only from a ConfigMap of its own release that sets neither"
	rulePod = "a workload's pods run as a ServiceAccount of their own release, and only the cni chart's DaemonSet (the node agent) reaches into the node: " +
		"no other workload is a DaemonSet or uses a host namespace, a host port, a hostPath volume, a privileged container or an added capability"
	ruleService = "a Service stays inside the cluster: of type ClusterIP, with no external IPs"
	ruleOnce    = "every object is rendered once"
)

// nodeAgentChart is the name of Istio's chart of the CNI node agent (charts.CNI), the only chart whose
// workload needs the node: its DaemonSet runs in the host network with hostPath volumes and added
// capabilities. A chart is fetched only under the name meshkeeper asked for (internal/charts checks
// the archive's name), so the name is meshkeeper's, not the chart's say-so.
const nodeAgentChart = "cni"

// harmlessCapability is the one capability a workload's container may add outside the node agent:
// Pod Security's restricted level allows it (binding ports below 1024).
const harmlessCapability = "NET_BIND_SERVICE"

// Environment variables of istiod that move its trust elsewhere: EXTERNAL_ISTIOD makes it the control
// plane of a remote cluster, CA_TRUSTED_NODE_ACCOUNTS lets the ServiceAccounts it names obtain
// certificates for any pod on their node. The CRD refuses them in spec.values, but the istiod chart
// writes some string values into its environment unquoted, so a value with a quote and a newline adds
// a variable of its own; the guard checks what was rendered.
const (
	envExternalIstiod      = "EXTERNAL_ISTIOD"
	envTrustedNodeAccounts = "CA_TRUSTED_NODE_ACCOUNTS"
)

// maxRefusals bounds the refused objects one error names.
const maxRefusals = 5

// allowedKinds are the only kinds a chart may render, and whether their objects are namespaced: those
// that Istio's base, istiod and cni charts render with the values meshkeeper gives them, spec.values
// included (which may add istiod's autoscaler, NetworkPolicy and ValidatingAdmissionPolicy). No Pods,
// Jobs, Secrets or Namespaces: none of the charts needs one.
var allowedKinds = map[schema.GroupKind]bool{
	{Kind: "ConfigMap"}:                                                                  true,
	{Kind: "Service"}:                                                                    true,
	{Kind: "ServiceAccount"}:                                                             true,
	{Group: "apps", Kind: "Deployment"}:                                                  true,
	{Group: "apps", Kind: "DaemonSet"}:                                                   true,
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}:                              true,
	{Group: "policy", Kind: "PodDisruptionBudget"}:                                       true,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:                                  true,
	{Group: rbacv1.GroupName, Kind: "Role"}:                                              true,
	{Group: rbacv1.GroupName, Kind: "RoleBinding"}:                                       true,
	{Group: rbacv1.GroupName, Kind: "ClusterRole"}:                                       false,
	{Group: rbacv1.GroupName, Kind: "ClusterRoleBinding"}:                                false,
	{Group: admissionregistrationv1.GroupName, Kind: "MutatingWebhookConfiguration"}:     false,
	{Group: admissionregistrationv1.GroupName, Kind: "ValidatingWebhookConfiguration"}:   false,
	{Group: admissionregistrationv1.GroupName, Kind: "ValidatingAdmissionPolicy"}:        false,
	{Group: admissionregistrationv1.GroupName, Kind: "ValidatingAdmissionPolicyBinding"}: false,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:                    false,
}

// istioGroupSuffix ends the API group of every CustomResourceDefinition of Istio's base chart.
const istioGroupSuffix = ".istio.io"

// escalatingVerbs are the verbs that let a holder grant rights it does not have, or act as someone else.
var escalatingVerbs = []string{"escalate", "bind", "impersonate"}

// escalatingResources are the resources escalatingVerbs apply to, and which verbs: the verb * on them
// grants those.
var escalatingResources = map[string]string{
	"roles":           "escalate and bind",
	"clusterroles":    "escalate and bind",
	"users":           "impersonate",
	"groups":          "impersonate",
	"serviceaccounts": "impersonate",
	"uids":            "impersonate",
	"userextras":      "impersonate",
}

// aggregationLabelPrefix starts the labels that aggregate a ClusterRole's rules into other ClusterRoles
// (such as the built-in admin, edit and view).
const aggregationLabelPrefix = "rbac.authorization.k8s.io/aggregate-to-"

// guardObjects checks every object a release of chart renders into namespace against the chart guard's
// rules, before anything of the release is applied. Objects of namespaced kinds without a namespace
// count as in the release namespace, where they are applied. It returns an error wrapping
// ErrRefusedObject that names each refused object (up to maxRefusals) with why, and the rules they break.
func guardObjects(chart, namespace string, objects []*unstructured.Unstructured, checkImage func(string) error) error {
	g := newGuard(namespace, objects)
	g.checkImage = checkImage
	g.nodeAgent = chart == nodeAgentChart
	var refused []string
	named := map[string]bool{}
	// A release applies its objects several at once, so of two objects of one kind, namespace and name
	// the one the API server takes last stays, whichever passed the rules that read the other (the keys
	// of a ConfigMap that envFrom takes), and drift repair would apply each over the other on every pass.
	seen := make(map[string]bool, len(objects))
	for _, obj := range objects {
		why, rule := g.check(obj)
		if key := g.key(obj); why == "" && seen[key] {
			why, rule = "is rendered more than once", ruleOnce
		} else {
			seen[key] = true
		}
		if why == "" {
			continue
		}
		refusal := fmt.Sprintf("%s %s, which %s", obj.GetKind(), g.name(obj), why)
		if !named[rule] {
			// Each rule is said once, at the first object that breaks it.
			refusal += " (rule: " + rule + ")"
			named[rule] = true
		}
		refused = append(refused, refusal)
	}
	if len(refused) == 0 {
		return nil
	}
	more := ""
	if len(refused) > maxRefusals {
		more = fmt.Sprintf("; and %d more", len(refused)-maxRefusals)
		refused = refused[:maxRefusals]
	}
	return fmt.Errorf("%w: chart %s renders %s%s; meshkeeper applies nothing of the release",
		ErrRefusedObject, chart, strings.Join(refused, "; "), more)
}

// guard is what the rules need to know of a release: its namespace, and the roles and admission
// policies it renders.
type guard struct {
	namespace string
	// nodeAgent is set for a release of the CNI node agent's chart, whose DaemonSet may reach into the node.
	nodeAgent bool
	// checkImage, when set, refuses an image of a hub the installer did not allow (ChartManager.CheckImage).
	checkImage   func(string) error
	clusterRoles map[string]bool
	roles        map[string]bool // by namespace/name
	policies     map[string]bool
	// configMaps are the keys of the data of the ConfigMaps the release renders in its namespace, by
	// name: what a container's envFrom may take its variables from.
	configMaps map[string][]string
	// serviceAccounts are the names of the ServiceAccounts the release renders in its namespace: the only
	// ones its workloads may run as.
	serviceAccounts map[string]bool
}

func newGuard(namespace string, objects []*unstructured.Unstructured) *guard {
	g := &guard{namespace: namespace, clusterRoles: map[string]bool{}, roles: map[string]bool{}, policies: map[string]bool{},
		configMaps: map[string][]string{}, serviceAccounts: map[string]bool{}}
	for _, obj := range objects {
		switch obj.GroupVersionKind().GroupKind() {
		case schema.GroupKind{Kind: "ServiceAccount"}:
			if g.namespaceOf(obj) == namespace {
				g.serviceAccounts[obj.GetName()] = true
			}
		case schema.GroupKind{Kind: "ConfigMap"}:
			if g.namespaceOf(obj) == namespace {
				// Every key counts, whatever its value: the API server stores a key without a value
				// (null) as an empty string, and the container gets it as a variable.
				data, _ := obj.Object["data"].(map[string]any)
				g.configMaps[obj.GetName()] = append(g.configMaps[obj.GetName()], slices.Collect(maps.Keys(data))...)
			}
		case schema.GroupKind{Group: rbacv1.GroupName, Kind: "ClusterRole"}:
			g.clusterRoles[obj.GetName()] = true
		case schema.GroupKind{Group: rbacv1.GroupName, Kind: "Role"}:
			g.roles[g.namespaceOf(obj)+"/"+obj.GetName()] = true
		case schema.GroupKind{Group: admissionregistrationv1.GroupName, Kind: "ValidatingAdmissionPolicy"}:
			g.policies[obj.GetName()] = true
		}
	}
	return g
}

// namespaceOf is the namespace obj is applied in: its own, or for a namespaced kind without one, the
// release namespace.
func (g *guard) namespaceOf(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" || !allowedKinds[obj.GroupVersionKind().GroupKind()] {
		return ns
	}
	return g.namespace
}

// key identifies obj as the API server does, across API versions: its group, kind, namespace (as
// namespaceOf gives it) and name.
func (g *guard) key(obj *unstructured.Unstructured) string {
	gk := obj.GroupVersionKind().GroupKind()
	return gk.String() + " " + g.namespaceOf(obj) + "/" + obj.GetName()
}

// name is obj's name as errors give it: with its namespace, when it has one.
func (g *guard) name(obj *unstructured.Unstructured) string {
	if ns := g.namespaceOf(obj); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}

// check returns why obj is refused and the rule it breaks, or "" when it passes.
func (g *guard) check(obj *unstructured.Unstructured) (string, string) {
	gvk := obj.GroupVersionKind()
	namespaced, allowed := allowedKinds[gvk.GroupKind()]
	switch {
	case !allowed:
		return fmt.Sprintf("is of a kind (%s) Istio's charts do not render", gvk.GroupKind()), ruleKind
	case namespaced && g.namespaceOf(obj) != g.namespace:
		return fmt.Sprintf("is outside the release namespace %s", g.namespace), ruleNamespace
	case !namespaced && obj.GetNamespace() != "":
		return fmt.Sprintf("is cluster-scoped but names namespace %s", obj.GetNamespace()), ruleNamespace
	}
	var why, rule string
	var err error
	switch gvk.Kind {
	case "CustomResourceDefinition":
		rule = ruleKind
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		if !strings.HasSuffix(group, istioGroupSuffix) {
			why = fmt.Sprintf("defines API group %q, not one of istio.io", group)
		} else {
			rule = ruleAdmission
			why, err = g.checkConversion(obj)
		}
	case "ValidatingAdmissionPolicy":
		rule = ruleAdmission
		why, err = checkPolicy(obj)
	case "ClusterRoleBinding", "RoleBinding":
		rule = ruleBinding
		why, err = g.checkBinding(obj)
	case "ClusterRole", "Role":
		rule = ruleRole
		why, err = checkRole(obj)
	case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicyBinding":
		rule = ruleAdmission
		why, err = g.checkAdmission(obj)
	case "Service":
		rule = ruleService
		why, err = checkService(obj)
	case "Deployment", "DaemonSet":
		rule = ruleImage
		if why, err = g.checkImages(obj); why == "" && err == nil {
			rule = ruleEnv
			if why, err = g.checkEnv(obj); why == "" && err == nil {
				rule = rulePod
				why, err = g.checkPod(obj)
			}
		}
	}
	if err != nil {
		return fmt.Sprintf("cannot be read as a %s: %v", gvk.Kind, err), rule
	}
	return why, rule
}

// checkImages returns why a workload is refused for the images of its pod template's containers, init
// containers and image volumes, or for a gitRepo volume, or "" (ruleImage): the values meshkeeper
// renders a chart with name only allowed hubs, but a chart's own defaults or templates may name any
// image.
func (g *guard) checkImages(obj *unstructured.Unstructured) (string, error) {
	// A volume's content can be code a container's command runs as much as an image's: a gitRepo volume
	// clones a repository from any URL (which no allow-list names), an image volume has the kubelet pull
	// an image and mount its files.
	volumes, _, err := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "volumes")
	if err != nil {
		return "", err
	}
	for _, v := range volumes {
		volume, _ := v.(map[string]any)
		if source, ok := volume["gitRepo"].(map[string]any); ok {
			return fmt.Sprintf("mounts gitRepo volume %v, a clone of %q from no image hub", volume["name"], source["repository"]), nil
		}
	}
	if g.checkImage == nil {
		return "", nil
	}
	containers, err := templateContainers(obj)
	if err != nil {
		return "", err
	}
	for _, container := range containers {
		image, _ := container["image"].(string)
		if err := g.checkImage(image); err != nil {
			return fmt.Sprintf("runs image %q in container %v: %v", image, container["name"], err), nil
		}
	}
	for _, v := range volumes {
		volume, _ := v.(map[string]any)
		source, ok := volume["image"].(map[string]any)
		if !ok {
			continue
		}
		image, _ := source["reference"].(string)
		if err := g.checkImage(image); err != nil {
			return fmt.Sprintf("mounts image volume %v of image %q: %v", volume["name"], image, err), nil
		}
	}
	return "", nil
}

// checkService returns why a Service is refused, or "" (ruleService). Every Service of Istio's charts is
// a ClusterIP one. A NodePort or LoadBalancer Service would open istiod's plaintext xDS and debug ports
// outside the cluster; external IPs make every node send the cluster's traffic for those addresses, any
// address, to the Service's pods (CVE-2020-8554).
func checkService(obj *unstructured.Unstructured) (string, error) {
	spec, _, err := unstructured.NestedMap(obj.Object, "spec")
	if err != nil {
		return "", err
	}
	if kind, _ := spec["type"].(string); kind != "" && kind != "ClusterIP" {
		return fmt.Sprintf("is of type %s", kind), nil
	}
	if ips, _ := spec["externalIPs"].([]any); len(ips) > 0 {
		return fmt.Sprintf("takes the cluster's traffic for external IPs %v", ips), nil
	}
	return "", nil
}

// checkPod returns why a workload is refused for what its pods run as and reach, or "" (rulePod). A
// ServiceAccount the release does not render (the namespace's default one, or another operator's in the
// same namespace) could hold any rights; and a pod with the node's namespaces, files or privileges owns
// the node and every pod on it. Istio's istiod Deployment needs none of them; its CNI agent's DaemonSet
// needs them all, and is left to them.
func (g *guard) checkPod(obj *unstructured.Unstructured) (string, error) {
	spec, _, err := unstructured.NestedMap(obj.Object, "spec", "template", "spec")
	if err != nil {
		return "", err
	}
	account, _ := spec["serviceAccountName"].(string)
	if account == "" {
		// The deprecated field still names the account when the new one is empty.
		account, _ = spec["serviceAccount"].(string)
	}
	switch {
	case account == "":
		return "runs its pods as the namespace's default ServiceAccount, which the release does not render", nil
	case !g.serviceAccounts[account]:
		return fmt.Sprintf("runs its pods as ServiceAccount %s, which the release does not render", account), nil
	case g.nodeAgent && obj.GetKind() == "DaemonSet":
		return "", nil
	case obj.GetKind() == "DaemonSet":
		return "is a DaemonSet of a chart other than the CNI node agent's", nil
	}
	for _, field := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if on, _ := spec[field].(bool); on {
			return fmt.Sprintf("sets %s", field), nil
		}
	}
	volumes, _ := spec["volumes"].([]any)
	for _, v := range volumes {
		volume, _ := v.(map[string]any)
		if volume["hostPath"] != nil {
			return fmt.Sprintf("mounts hostPath volume %v", volume["name"]), nil
		}
	}
	containers, err := templateContainers(obj)
	if err != nil {
		return "", err
	}
	for _, container := range containers {
		ports, _ := container["ports"].([]any)
		for _, p := range ports {
			port, _ := p.(map[string]any)
			if port["hostPort"] != nil {
				return fmt.Sprintf("opens host port %v in container %v", port["hostPort"], container["name"]), nil
			}
		}
		security, _ := container["securityContext"].(map[string]any)
		if privileged, _ := security["privileged"].(bool); privileged {
			return fmt.Sprintf("runs container %v privileged", container["name"]), nil
		}
		capabilities, _ := security["capabilities"].(map[string]any)
		added, _ := capabilities["add"].([]any)
		for _, c := range added {
			if name, _ := c.(string); name != harmlessCapability && name != "CAP_"+harmlessCapability {
				return fmt.Sprintf("adds capability %v to container %v", c, container["name"]), nil
			}
		}
	}
	return "", nil
}

// templateContainers are the init containers and containers of a workload's pod template.
func templateContainers(obj *unstructured.Unstructured) ([]map[string]any, error) {
	var all []map[string]any
	for _, field := range []string{"initContainers", "containers"} {
		containers, _, err := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", field)
		if err != nil {
			return nil, err
		}
		for _, c := range containers {
			container, _ := c.(map[string]any)
			all = append(all, container)
		}
	}
	return all, nil
}

// checkEnv returns why a workload is refused for the environment of its pod template's containers and
// init containers, or "" (ruleEnv). The istiod chart sets CA_TRUSTED_NODE_ACCOUNTS to
// <namespace>/<trustedZtunnelName, ztunnel by default>; the CRD keeps trustedZtunnelNamespace to
// spec.namespace.
func (g *guard) checkEnv(obj *unstructured.Unstructured) (string, error) {
	containers, err := templateContainers(obj)
	if err != nil {
		return "", err
	}
	for _, container := range containers {
		if why := g.checkEnvFrom(container); why != "" {
			return why, nil
		}
		env, _ := container["env"].([]any)
		seen := make(map[string]bool, len(env))
		for _, e := range env {
			v, _ := e.(map[string]any)
			name, _ := v["name"].(string)
			value, _ := v["value"].(string)
			switch {
			case seen[name]:
				return fmt.Sprintf("sets %s twice in container %v (server-side apply refuses two variables of a name; "+
					"a variable the chart sets itself is set through the chart's own value, not spec.values.env or envVarFrom)",
					name, container["name"]), nil
			case name == envExternalIstiod:
				return fmt.Sprintf("sets %s in container %v", name, container["name"]), nil
			case name == envTrustedNodeAccounts && (!g.ownServiceAccount(value) || v["valueFrom"] != nil):
				return fmt.Sprintf("sets %s to %q in container %v", name, value, container["name"]), nil
			}
			seen[name] = true
		}
	}
	return "", nil
}

// checkEnvFrom returns why a container is refused for the variables it takes in bulk (envFrom), or "":
// they count as its environment as much as env does, so they come only from a ConfigMap the release
// renders, whose keys (with the entry's prefix) are then known, and that sets neither of istiod's
// trust variables. A Secret, or a ConfigMap the release does not render, could hold anything.
func (g *guard) checkEnvFrom(container map[string]any) string {
	envFrom, _ := container["envFrom"].([]any)
	for _, e := range envFrom {
		source, _ := e.(map[string]any)
		prefix, _ := source["prefix"].(string)
		ref, _ := source["configMapRef"].(map[string]any)
		name, _ := ref["name"].(string)
		keys, rendered := g.configMaps[name]
		if ref == nil || !rendered {
			return fmt.Sprintf("takes variables (envFrom) in container %v from something other than a ConfigMap the release renders",
				container["name"])
		}
		for _, key := range keys {
			if v := prefix + key; v == envExternalIstiod || v == envTrustedNodeAccounts {
				return fmt.Sprintf("sets %s through envFrom (ConfigMap %s) in container %v", v, name, container["name"])
			}
		}
	}
	return ""
}

// ownServiceAccount tells whether s names one ServiceAccount of the release namespace, as
// <namespace>/<name>.
func (g *guard) ownServiceAccount(s string) bool {
	name, ok := strings.CutPrefix(s, g.namespace+"/")
	return ok && len(validation.IsDNS1123Subdomain(name)) == 0
}

// checkBinding returns why a RoleBinding or ClusterRoleBinding is refused, or "".
func (g *guard) checkBinding(obj *unstructured.Unstructured) (string, error) {
	var ref rbacv1.RoleRef
	var subjects []rbacv1.Subject
	cluster := obj.GetKind() == "ClusterRoleBinding"
	if cluster {
		binding := &rbacv1.ClusterRoleBinding{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, binding); err != nil {
			return "", err
		}
		ref, subjects = binding.RoleRef, binding.Subjects
	} else {
		binding := &rbacv1.RoleBinding{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, binding); err != nil {
			return "", err
		}
		ref, subjects = binding.RoleRef, binding.Subjects
	}
	namespace := g.namespaceOf(obj)
	switch {
	case ref.APIGroup != rbacv1.GroupName:
		return fmt.Sprintf("grants a role of API group %q", ref.APIGroup), nil
	case ref.Kind == "ClusterRole" && !g.clusterRoles[ref.Name]:
		return fmt.Sprintf("grants ClusterRole %s, which the release does not render", ref.Name), nil
	case ref.Kind == "Role" && (cluster || !g.roles[namespace+"/"+ref.Name]):
		return fmt.Sprintf("grants Role %s, which the release does not render in namespace %s", ref.Name, namespace), nil
	case ref.Kind != "ClusterRole" && ref.Kind != "Role":
		return fmt.Sprintf("grants a role of kind %q", ref.Kind), nil
	}
	for _, s := range subjects {
		if s.Kind != rbacv1.ServiceAccountKind {
			return fmt.Sprintf("grants %s %s to %s %q, not a ServiceAccount", ref.Kind, ref.Name, s.Kind, s.Name), nil
		}
		ns := s.Namespace
		if ns == "" && !cluster {
			ns = namespace // a RoleBinding's ServiceAccount defaults to the binding's namespace
		}
		if ns != g.namespace {
			return fmt.Sprintf("grants %s %s to ServiceAccount %s/%s, outside the release namespace", ref.Kind, ref.Name, ns, s.Name), nil
		}
	}
	return "", nil
}

// checkRole returns why a Role or ClusterRole is refused, or "".
func checkRole(obj *unstructured.Unstructured) (string, error) {
	var rules []rbacv1.PolicyRule
	if obj.GetKind() == "ClusterRole" {
		role := &rbacv1.ClusterRole{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, role); err != nil {
			return "", err
		}
		if role.AggregationRule != nil {
			return "aggregates the rules of other ClusterRoles (aggregationRule)", nil
		}
		for label := range role.Labels {
			if strings.HasPrefix(label, aggregationLabelPrefix) {
				return fmt.Sprintf("adds its rules to other ClusterRoles (label %s)", label), nil
			}
		}
		rules = role.Rules
	} else {
		role := &rbacv1.Role{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, role); err != nil {
			return "", err
		}
		rules = role.Rules
	}
	for _, rule := range rules {
		if why := refusedRule(rule); why != "" {
			return why, nil
		}
	}
	return "", nil
}

// refusedRule returns why a policy rule is refused, or "": it names escalate, bind or impersonate,
// grants the verb * on every resource or on a resource those verbs apply to, or grants creating
// ServiceAccount tokens.
func refusedRule(rule rbacv1.PolicyRule) string {
	for _, verb := range rule.Verbs {
		if slices.Contains(escalatingVerbs, strings.ToLower(verb)) {
			return fmt.Sprintf("grants the verb %s", verb)
		}
	}
	if slices.Contains(rule.Verbs, rbacv1.VerbAll) {
		for _, resource := range rule.Resources {
			base, _, _ := strings.Cut(resource, "/")
			if base == rbacv1.ResourceAll {
				return fmt.Sprintf("grants every verb (*) on resources %q", resource)
			}
			if verbs, ok := escalatingResources[strings.ToLower(base)]; ok {
				return fmt.Sprintf("grants every verb (*) on %s, which includes %s", resource, verbs)
			}
		}
	}
	if resource := mintsTokens(rule); resource != "" {
		return fmt.Sprintf("grants creating %s, a token of any ServiceAccount it reaches (among them ones that hold more rights)", resource)
	}
	if resource := entersPodsOrNodes(rule); resource != "" {
		return fmt.Sprintf("grants %s, which runs commands in pods or on nodes it reaches (among them ones that hold more rights)", resource)
	}
	if signer := approvesClusterSigners(rule); signer != "" {
		return fmt.Sprintf("grants approving certificate requests of %s, which mints client certificates for any user "+
			"(name your own CA's signer in spec.values.global.certSigners)", signer)
	}
	return ""
}

// inGroup tells whether rule applies to the API group: it names the group, or every group.
func inGroup(rule rbacv1.PolicyRule, group string) bool {
	return slices.Contains(rule.APIGroups, group) || slices.Contains(rule.APIGroups, rbacv1.APIGroupAll)
}

// grantsAny tells whether rule grants one of verbs (given in lower case), the verb * included.
func grantsAny(rule rbacv1.PolicyRule, verbs ...string) bool {
	return slices.ContainsFunc(rule.Verbs, func(v string) bool {
		v = strings.ToLower(v)
		return v == rbacv1.VerbAll || slices.Contains(verbs, v)
	})
}

// podAndNodeEntries are the subresources of the core group that run commands in a pod (exec, attach,
// an ephemeral container) or reach the kubelet's API on a node (nodes/proxy, whose get alone reaches
// its exec endpoint over a WebSocket). None of Istio's roles grants them.
var podAndNodeEntries = []string{"pods/exec", "pods/attach", "pods/ephemeralcontainers", "nodes/proxy"}

// entersPodsOrNodes returns the resource through which rule grants running commands in pods or on
// nodes, or "": one of podAndNodeEntries, the subresource of any resource ("*/exec"), or every resource
// of the core group with a verb that reaches them (get, create or *).
func entersPodsOrNodes(rule rbacv1.PolicyRule) string {
	if !inGroup(rule, "") || len(rule.Verbs) == 0 {
		return ""
	}
	reaches := grantsAny(rule, "get", "create")
	for _, resource := range rule.Resources {
		r := strings.ToLower(resource)
		if r == rbacv1.ResourceAll && reaches {
			return fmt.Sprintf("%s on every resource of the core group", strings.Join(rule.Verbs, ", "))
		}
		for _, entry := range podAndNodeEntries {
			_, sub, _ := strings.Cut(entry, "/")
			if r == entry || r == "*/"+sub {
				return fmt.Sprintf("%s on %s", strings.Join(rule.Verbs, ", "), resource)
			}
		}
	}
	return ""
}

// certificatesGroup is the API group of certificate signing requests and their signers.
const certificatesGroup = "certificates.k8s.io"

// kubernetesSignerPrefix starts the names of the cluster's own signers (kubernetes.io/kube-apiserver-client
// signs client certificates the API server trusts for any user, system:masters included).
const kubernetesSignerPrefix = "kubernetes.io/"

// approvesClusterSigners returns which signers rule lets its holder approve certificate requests for,
// when they include the cluster's own (every signer, for a rule that names none), or "". The istiod
// chart grants approve on the signers of global.certSigners, and on every signer when that list is
// empty while an external CA or a Kubernetes-signed istiod certificate is asked for: with the right
// to create and approve requests, that is a client certificate for any user.
func approvesClusterSigners(rule rbacv1.PolicyRule) string {
	signers := slices.ContainsFunc(rule.Resources, func(r string) bool {
		r = strings.ToLower(r)
		return r == "signers" || r == rbacv1.ResourceAll
	})
	if !inGroup(rule, certificatesGroup) || !grantsAny(rule, "approve") || !signers {
		return ""
	}
	if len(rule.ResourceNames) == 0 {
		return "every signer"
	}
	for _, name := range rule.ResourceNames {
		if strings.HasPrefix(strings.ToLower(name), kubernetesSignerPrefix) || name == rbacv1.ResourceAll {
			return "signer " + name
		}
	}
	return ""
}

// mintsTokens returns the resource through which rule grants creating ServiceAccount tokens (the
// TokenRequest API, serviceaccounts/token of the core group), or "": RBAC matches "*" to every resource
// and subresource, and "*/token" to the subresource of any.
func mintsTokens(rule rbacv1.PolicyRule) string {
	if !inGroup(rule, "") || !grantsAny(rule, "create") {
		return ""
	}
	for _, resource := range rule.Resources {
		switch strings.ToLower(resource) {
		case rbacv1.ResourceAll, "serviceaccounts/token", "*/token":
			return resource
		}
	}
	return ""
}

// checkConversion returns why a CustomResourceDefinition is refused for its conversion webhook, or ""
// (ruleAdmission). The API server sends every object of the kind that is read or written in a version
// other than the stored one to that webhook, and serves what it answers: a webhook outside the release
// would see every Istio resource of the kind and could rewrite it (an AuthorizationPolicy's DENY served
// as ALLOW). Istio's charts render no conversion webhook; one that calls a Service in the release
// namespace is held to what the release's admission webhooks are.
func (g *guard) checkConversion(obj *unstructured.Unstructured) (string, error) {
	conversion, _, err := unstructured.NestedMap(obj.Object, "spec", "conversion")
	if err != nil {
		return "", err
	}
	if strategy, _ := conversion["strategy"].(string); strategy == "" || strategy == "None" {
		return "", nil
	}
	// apiextensions.k8s.io/v1 keeps the client under webhook, v1beta1 kept it beside the strategy.
	config, _, err := unstructured.NestedMap(conversion, "webhook", "clientConfig")
	if err != nil {
		return "", err
	}
	if config == nil {
		if config, _, err = unstructured.NestedMap(conversion, "webhookClientConfig"); err != nil {
			return "", err
		}
	}
	service, _ := config["service"].(map[string]any)
	namespace, _ := service["namespace"].(string)
	name, _ := service["name"].(string)
	switch {
	case config["url"] != nil:
		return "sends conversion webhook to a URL rather than a Service", nil
	case service == nil:
		return "names no Service for its conversion webhook", nil
	case namespace != g.namespace:
		return fmt.Sprintf("sends conversion webhook to Service %s/%s, outside the release namespace", namespace, name), nil
	}
	return "", nil
}

// checkPolicy returns why a ValidatingAdmissionPolicy is refused, or "" (ruleAdmission). A policy with
// parameters (paramKind) has the API server read, for every request it matches, the object its binding's
// paramRef names, in any namespace, and its messageExpression may write that object into the denial
// the requester gets: a Secret of any namespace, read with meshkeeper's right to read every Secret,
// handed to whoever may create an object the policy matches. Istio's policies take no parameters.
func checkPolicy(obj *unstructured.Unstructured) (string, error) {
	paramKind, _, err := unstructured.NestedMap(obj.Object, "spec", "paramKind")
	if err != nil {
		return "", err
	}
	if paramKind != nil {
		return fmt.Sprintf("reads parameters of kind %v/%v (paramKind)", paramKind["apiVersion"], paramKind["kind"]), nil
	}
	return "", nil
}

// checkAdmission returns why a webhook configuration or an admission policy binding is refused, or "".
func (g *guard) checkAdmission(obj *unstructured.Unstructured) (string, error) {
	var configs []admissionregistrationv1.WebhookClientConfig
	var names []string
	switch obj.GetKind() {
	case "ValidatingAdmissionPolicyBinding":
		binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, binding); err != nil {
			return "", err
		}
		if !g.policies[binding.Spec.PolicyName] {
			return fmt.Sprintf("binds ValidatingAdmissionPolicy %q, which the release does not render", binding.Spec.PolicyName), nil
		}
		return "", nil
	case "MutatingWebhookConfiguration":
		webhooks := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, webhooks); err != nil {
			return "", err
		}
		for _, w := range webhooks.Webhooks {
			configs, names = append(configs, w.ClientConfig), append(names, w.Name)
		}
	default:
		webhooks := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, webhooks); err != nil {
			return "", err
		}
		for _, w := range webhooks.Webhooks {
			configs, names = append(configs, w.ClientConfig), append(names, w.Name)
		}
	}
	for i, config := range configs {
		switch {
		case config.URL != nil:
			return fmt.Sprintf("sends webhook %s to a URL rather than a Service", names[i]), nil
		case config.Service == nil:
			return fmt.Sprintf("names no Service for webhook %s", names[i]), nil
		case config.Service.Namespace != g.namespace:
			return fmt.Sprintf("sends webhook %s to Service %s/%s, outside the release namespace",
				names[i], config.Service.Namespace, config.Service.Name), nil
		}
	}
	return "", nil
}
