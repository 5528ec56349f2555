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

// Package render computes desired state from the ServiceMesh spec: pure functions with no client,
// covered by table tests and golden files.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// DefaultReplicas is the istiod replica count when the spec sets neither replicas nor autoscaling:
// two, so a rollout or a node drain never leaves the mesh without a control plane.
const DefaultReplicas = 2

// Values is a Helm values tree.
type Values = map[string]any

// BaseValues are the values of the istio-base chart (cluster-wide resources and the Istio CRDs).
func BaseValues(spec *meshv1alpha1.ServiceMeshSpec) Values {
	return Values{
		"global": Values{
			"istioNamespace": spec.Namespace,
		},
	}
}

// IstiodValues are the values of the istiod chart for the given spec and resolved Istio version.
// spec.values is merged last, so what a user sets there wins.
func IstiodValues(spec *meshv1alpha1.ServiceMeshSpec, version string) (Values, error) {
	return istiodValues(spec, version, true)
}

// istiodValues are IstiodValues; checkCPU refuses an autoscaled istiod that requests no CPU, which
// only the values istiod is installed with must pass: the spec's fields alone may lack a CPU request
// that spec.values adds.
func istiodValues(spec *meshv1alpha1.ServiceMeshSpec, version string, checkCPU bool) (Values, error) {
	cp := spec.ControlPlane
	proxy := spec.Proxy

	global := Values{
		// Always set: the upstream master charts default to a testing registry and the tag "latest".
		"hub":            spec.Images.Hub,
		"tag":            version,
		"istioNamespace": spec.Namespace,
		"defaultPodDisruptionBudget": Values{
			"enabled": boolOr(cp.PodDisruptionBudget, true),
		},
	}
	if spec.Images.PullPolicy != "" {
		global["imagePullPolicy"] = string(spec.Images.PullPolicy)
	}
	if cp.PriorityClassName != "" {
		global["priorityClassName"] = cp.PriorityClassName
	}
	// The paths of the resources the spec sets: they replace the chart's defaults rather than merge
	// into them.
	var ownResources [][]string
	if res := resources(proxy.Resources); res != nil {
		global["proxy"] = Values{"resources": res}
		ownResources = append(ownResources, []string{"global", "proxy", "resources"})
	}

	env := pushTuningEnv(cp.PushTuning)
	proxyMetadata := Values{
		"ISTIO_DELTA_XDS":        strconv.FormatBool(boolOr(proxy.DeltaXDS, true)),
		"ISTIO_META_DNS_CAPTURE": strconv.FormatBool(boolOr(proxy.DNSCapture, true)),
	}
	autoAllocate := strconv.FormatBool(boolOr(proxy.DNSAutoAllocate, true))
	if istiodAllocatesAddresses(version) {
		// Said either way: istiod allocates by default, so false has to be said to turn it off.
		env["PILOT_ENABLE_IP_AUTOALLOCATE"] = autoAllocate
	} else {
		proxyMetadata["ISTIO_META_DNS_AUTO_ALLOCATE"] = autoAllocate
	}

	values := Values{
		"global": global,
		"env":    env,
		"meshConfig": Values{
			"defaultConfig": Values{
				"holdApplicationUntilProxyStarts": boolOr(proxy.HoldApplicationUntilProxyStarts, true),
				"proxyMetadata":                   proxyMetadata,
			},
		},
		// Probes of injected pods go through the sidecar's status port, so STRICT mTLS does not
		// break kubelet's HTTP probes.
		"sidecarInjectorWebhook": Values{"rewriteAppHTTPProbe": true},
	}

	if cp.Autoscaling != nil {
		values["autoscaleEnabled"] = true
		values["autoscaleMin"] = int64(cp.Autoscaling.MinReplicas)
		values["autoscaleMax"] = int64(cp.Autoscaling.MaxReplicas)
	} else {
		replicas := int64(DefaultReplicas)
		if cp.Replicas != nil {
			replicas = int64(*cp.Replicas)
		}
		values["autoscaleEnabled"] = false
		values["replicaCount"] = replicas
	}
	if res := resources(cp.Resources); res != nil {
		values["resources"] = res
		ownResources = append(ownResources, []string{"resources"})
	}
	values = withoutChartDefaults(values, ownResources...)
	if len(cp.NodeSelector) > 0 {
		values["nodeSelector"] = toValues(cp.NodeSelector)
	}
	if len(cp.Tolerations) > 0 {
		values["tolerations"] = toValues(cp.Tolerations)
	}
	// istiod's container meets the Pod Security level restricted in all but its seccomp profile, which
	// the chart sets only from this value and leaves out by default: without it a control-plane
	// namespace that enforces restricted admits no istiod pod. spec.values merges over it, so a user's
	// own profile (a Localhost one) wins, and null takes it out.
	values["seccompProfile"] = Values{"type": "RuntimeDefault"}

	mode := Mode(spec)
	values = Merge(values, injectionDefaults(mode))
	if spec.Values != nil && len(spec.Values.Raw) > 0 {
		var user Values
		if err := json.Unmarshal(spec.Values.Raw, &user); err != nil {
			return nil, fmt.Errorf("spec.values is not a JSON object: %w", err)
		}
		values = Merge(values, user)
	}
	if selectsProfile(values) && stringAt(values, "trustedZtunnelNamespace") == "" {
		values["trustedZtunnelNamespace"] = spec.Namespace
	}
	if checkCPU && (len(cp.Resources.Requests) > 0 || len(cp.Resources.Limits) > 0) {
		if err := autoscaledCPURequest(values); err != nil {
			return nil, err
		}
	}
	values = Merge(values, injectionValues(mode))
	if selectsProfile(values) {
		// The chart copies the values under pilot over the top-level ones after it merged the profile (its
		// zzy_descope_legacy.yaml), and a profile's pilot.cni.enabled (OpenShift's is true) would then
		// decide, past cni.enabled, whether istiod injects for a CNI plugin: what the Pod Security check of
		// enrollment, the proxy counts and the restarts read from cni.enabled (policy.InjectsForCNI).
		// spec.values may not set pilot (the CRD refuses it), so only a profile's would be there.
		enabled, _ := valueAt(values, []string{"cni", "enabled"})
		values["pilot"] = Values{"cni": Values{"enabled": CNIEnabled(enabled)}}
	}
	return values, nil
}

// CNIEnabled is a value of cni.enabled as meshkeeper takes it: as Helm's templates take false, 0 and
// "" (a string "false" too) for false, and any other bool, number or string for true; anything else,
// or nothing, is false. policy.InjectsForCNI reads spec.values with it, and istiodValues renders
// pilot.cni.enabled with it, so that the chart injects as meshkeeper counts.
func CNIEnabled(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v != ""
	case float64:
		return v != 0
	case int:
		return v != 0
	}
	return false
}

// selectsProfile tells whether values choose a profile file of the istiod chart: a profile, a platform
// or a compatibility version. The chart merges the file under the values, where a key the values leave
// empty keeps the file's: the OpenShift platform's names kube-system as trustedZtunnelNamespace, which
// would have istiod trust that namespace's ztunnel to obtain any pod's certificate (the chart guard
// refuses it, and the install fails). IstiodValues then says the namespace, the one the CRD allows.
func selectsProfile(values Values) bool {
	global, _ := values["global"].(Values)
	return stringAt(values, "profile") != "" || stringAt(global, "profile") != "" ||
		stringAt(values, "platform") != "" || stringAt(global, "platform") != "" ||
		stringAt(values, "compatibilityVersion") != ""
}

// autoscaledCPURequest refuses values that autoscale istiod while its container requests no CPU. The
// chart's HorizontalPodAutoscaler scales on CPU utilization, which Kubernetes computes against the CPU
// requests of the pod's containers: without one it reports "missing request for cpu" and never scales.
// Only resources the spec sets can lack it (withoutChartDefaults takes the chart's 500m out); a CPU
// limit counts, since the request defaults to it.
func autoscaledCPURequest(values Values) error {
	if stringAt(values, "autoscaleEnabled") != "true" {
		return nil
	}
	res, _ := values["resources"].(Values)
	requests, _ := res["requests"].(Values)
	limits, _ := res["limits"].(Values)
	if stringAt(requests, "cpu") != "" || stringAt(limits, "cpu") != "" {
		return nil
	}
	return fmt.Errorf("controlPlane.resources must request cpu (requests.cpu, or limits.cpu) with autoscaling: " +
		"istiod's HorizontalPodAutoscaler scales on CPU utilization of that request, and without one it never scales")
}

// typedValueKeys are the keys of istiod's values that fields of the spec render, with the field: the
// keys ValuesOverrides looks for in spec.values.
var typedValueKeys = []struct{ path, field string }{
	{"global.hub", "images.hub"},
	{"global.imagePullPolicy", "images.pullPolicy"},
	{"global.tag", "version"},
	{"env.PILOT_DEBOUNCE_AFTER", "controlPlane.pushTuning.debounceAfter"},
	{"env.PILOT_DEBOUNCE_MAX", "controlPlane.pushTuning.debounceMax"},
	{"env.PILOT_PUSH_THROTTLE", "controlPlane.pushTuning.pushThrottle"},
	{"env.PILOT_ENABLE_IP_AUTOALLOCATE", "proxy.dnsAutoAllocate"},
	{"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_AUTO_ALLOCATE", "proxy.dnsAutoAllocate"},
	{"meshConfig.defaultConfig.proxyMetadata.ISTIO_DELTA_XDS", "proxy.deltaXDS"},
	{"meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE", "proxy.dnsCapture"},
	{"meshConfig.defaultConfig.holdApplicationUntilProxyStarts", "proxy.holdApplicationUntilProxyStarts"},
	{"global.proxy.resources", "proxy.resources"},
	{"autoscaleEnabled", "controlPlane.replicas and controlPlane.autoscaling"},
	{"replicaCount", "controlPlane.replicas"},
	{"autoscaleMin", "controlPlane.autoscaling.minReplicas"},
	{"autoscaleMax", "controlPlane.autoscaling.maxReplicas"},
	{"resources", "controlPlane.resources"},
	{"nodeSelector", "controlPlane.nodeSelector"},
	{"tolerations", "controlPlane.tolerations"},
	{"global.priorityClassName", "controlPlane.priorityClassName"},
	{"global.defaultPodDisruptionBudget.enabled", "controlPlane.podDisruptionBudget"},
}

// istiodImageKeys are keys of istiod's values that no field renders but that replace, for istiod's own
// image, the key over that a field renders: the chart takes hub and tag before global.hub and
// global.tag.
var istiodImageKeys = []struct{ path, over, field string }{
	{"hub", "global.hub", "images.hub"},
	{"tag", "global.tag", "version"},
}

// ValuesOverrides names each key of spec.values that replaces what a field of the spec renders, with
// the field ("spec.values env.PILOT_DEBOUNCE_AFTER overrides controlPlane.pushTuning.debounceAfter"):
// spec.values is merged last and wins, so the field shows a setting istiod or the injector does not
// use. A key that agrees with the field (its text, so 100 and "100" agree), or only adds to a map the
// field renders (a nodeSelector label, a CPU request beside the field's memory), overrides nothing.
// global.proxy.holdApplicationUntilProxyStarts true counts against the field set to false: the
// injection template holds applications when either is true. Nil without spec.values, or when its
// values do not render.
func ValuesOverrides(spec *meshv1alpha1.ServiceMeshSpec, version string) []string {
	if spec.Values == nil || len(spec.Values.Raw) == 0 {
		return nil
	}
	var user Values
	if err := json.Unmarshal(spec.Values.Raw, &user); err != nil {
		return nil
	}
	withoutValues := *spec
	withoutValues.Values = nil
	own, err := istiodValues(&withoutValues, version, false)
	if err != nil {
		return nil
	}
	final, err := IstiodValues(spec, version)
	if err != nil {
		return nil
	}
	var out []string
	for _, k := range typedValueKeys {
		path := strings.Split(k.path, ".")
		if _, set := valueAt(user, path); !set {
			continue
		}
		mine, _ := valueAt(own, path)
		theirs, _ := valueAt(final, path)
		if mine != nil && replaces(mine, theirs) {
			out = append(out, fmt.Sprintf("spec.values %s overrides %s", k.path, k.field))
		}
	}
	for _, k := range istiodImageKeys {
		// Empty or null, the chart takes the key the field renders.
		theirs := stringAt(user, k.path)
		if mine, _ := valueAt(own, strings.Split(k.over, ".")); theirs != "" && mine != nil && replaces(mine, theirs) {
			out = append(out, fmt.Sprintf("spec.values %s overrides %s for istiod's image", k.path, k.field))
		}
	}
	if !boolOr(spec.Proxy.HoldApplicationUntilProxyStarts, true) {
		if hold, _ := valueAt(user, []string{"global", "proxy", "holdApplicationUntilProxyStarts"}); fmt.Sprint(hold) == "true" {
			out = append(out, "spec.values global.proxy.holdApplicationUntilProxyStarts overrides proxy.holdApplicationUntilProxyStarts")
		}
	}
	return out
}

// valueAt is the value at path in values, and whether the path is there (also with a null).
func valueAt(values Values, path []string) (any, bool) {
	var cur any = values
	for _, key := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// replaces reports whether theirs, the merged value, loses something of mine, the value a field
// rendered: a map loses when one of its keys does; anything else when its text differs.
func replaces(mine, theirs any) bool {
	if m, ok := mine.(map[string]any); ok {
		t, ok := theirs.(map[string]any)
		if !ok {
			return true
		}
		for key, v := range m {
			if replaces(v, t[key]) {
				return true
			}
		}
		return false
	}
	if _, ok := mine.([]any); ok {
		return !reflect.DeepEqual(mine, theirs)
	}
	return theirs == nil || fmt.Sprint(mine) != fmt.Sprint(theirs)
}

// ipAutoallocateMinor is the first Istio 1.x minor version in which istiod allocates the addresses of
// ServiceEntries that have none by default (PILOT_ENABLE_IP_AUTOALLOCATE, "DNS auto-allocation v2": a
// controller writes them into the ServiceEntry's status.addresses) and which deprecates the proxy flag
// ISTIO_META_DNS_AUTO_ALLOCATE, whose mesh-config validation warns from then on.
const ipAutoallocateMinor = 25

// istiodAllocatesAddresses reports whether the Istio version allocates ServiceEntry addresses in istiod
// rather than in each proxy. A version that does not parse counts as current; the CRD admits only
// MAJOR.MINOR.PATCH versions.
func istiodAllocatesAddresses(version string) bool {
	majorPart, rest, _ := strings.Cut(version, ".")
	minorPart, _, _ := strings.Cut(rest, ".")
	major, err1 := strconv.Atoi(majorPart)
	minor, err2 := strconv.Atoi(minorPart)
	if err1 != nil || err2 != nil {
		return true
	}
	return major > 1 || minor >= ipAutoallocateMinor
}

// pushTuningEnv is istiod's environment for the push debounce and throttle.
func pushTuningEnv(t meshv1alpha1.PushTuningSpec) Values {
	env := Values{}
	if t.DebounceAfter != nil {
		env["PILOT_DEBOUNCE_AFTER"] = t.DebounceAfter.Duration.String()
	}
	if t.DebounceMax != nil {
		env["PILOT_DEBOUNCE_MAX"] = t.DebounceMax.Duration.String()
	}
	if t.PushThrottle != nil {
		env["PILOT_PUSH_THROTTLE"] = strconv.Itoa(int(*t.PushThrottle))
	}
	return env
}

// Merge returns base with override merged into it: maps merge key by key, anything else in override
// replaces what base has. Neither argument is modified.
func Merge(base, override Values) Values {
	out := make(Values, len(base)+len(override))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if overrideMap, ok := v.(map[string]any); ok {
			if baseMap, ok := out[k].(map[string]any); ok {
				out[k] = Merge(baseMap, overrideMap)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func boolOr(b *bool, fallback bool) bool {
	if b == nil {
		return fallback
	}
	return *b
}

// chartDefaultsKey is the key under which Istio's charts keep their defaults. Their zzz_profile.yaml
// template merges the values over those defaults key by key (Sprig's mustMergeOverwrite), so a map the
// values set only in part keeps the default's other keys: resources with only a memory limit would keep
// the default CPU limit and requests, and a memory limit below the default request makes the pod
// invalid. Helm's value coalescing, which comes first, deletes a chart default that the values set to
// null, so a null under this key takes a default out of the merge.
const chartDefaultsKey = "_internal_defaults_do_not_set"

// withoutChartDefaults returns values with a null under chartDefaultsKey at each path (keys from the
// top of the values), so that what values set at the path is all the chart renders there. spec.values
// cannot undo it: the CRD rejects chartDefaultsKey in it. A chart that keeps no defaults under the key
// ignores it.
func withoutChartDefaults(values Values, paths ...[]string) Values {
	for _, path := range paths {
		null := Values{path[len(path)-1]: nil}
		for i := len(path) - 2; i >= 0; i-- {
			null = Values{path[i]: null}
		}
		values = Merge(values, Values{chartDefaultsKey: null})
	}
	return values
}

// resources is a ResourceRequirements as values, or nil when it sets nothing. The container gets
// exactly these: the caller must take the chart's default out (withoutChartDefaults), else requests or
// limits the spec leaves out come from it.
func resources(r corev1.ResourceRequirements) Values {
	if len(r.Requests) == 0 && len(r.Limits) == 0 && len(r.Claims) == 0 {
		return nil
	}
	return toValues(r).(Values)
}

// toValues converts an API struct to the plain JSON-shaped tree Helm values are made of.
func toValues(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		// API types always marshal; a failure here is a programming error.
		panic(fmt.Sprintf("marshalling %T: %v", v, err))
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(fmt.Sprintf("unmarshalling %T: %v", v, err))
	}
	return out
}

// ImageHubs are the hubs the istiod chart pulls images from with values (IstiodValues' result):
// global.hub for every image, the istiod image's hub (values "hub", or the hub of "image" when that is
// a full reference), and the hubs of the sidecar, init and agentgateway images given as full
// references. Every one must be an allowed hub.
func ImageHubs(values Values) []string {
	var hubs []string
	add := func(hub string) {
		if hub != "" && !slices.Contains(hubs, hub) {
			hubs = append(hubs, hub)
		}
	}
	global, _ := values["global"].(Values)
	add(stringAt(global, "hub"))
	if image := stringAt(values, "image"); strings.Contains(image, "/") {
		add(charts.ImageHub(image))
	} else {
		add(stringAt(values, "hub"))
	}
	for _, component := range []string{"proxy", "proxy_init", "agentgateway"} {
		settings, _ := global[component].(Values)
		if image := stringAt(settings, "image"); strings.Contains(image, "/") {
			add(charts.ImageHub(image))
		}
	}
	return hubs
}

// ProxyTag is the tag of the sidecar image istiod injects with values (IstiodValues' result), as the
// injection template builds it: the tag of global.proxy.image when that is a whole reference ("" when it
// has none, or is pinned by digest alone), else global.tag with "-" and global.variant when one is set.
// A proxy is outdated when its image carries another tag; spec.values may set either (a mirror's
// "1.31.1-fips", say), and a restart would not change what the injector gives.
func ProxyTag(values Values) string {
	global, _ := values["global"].(Values)
	proxy, _ := global["proxy"].(Values)
	if image := stringAt(proxy, "image"); strings.Contains(image, "/") {
		return charts.ImageTag(image)
	}
	tag := stringAt(global, "tag")
	if variant := stringAt(global, "variant"); tag != "" && variant != "" {
		tag += "-" + variant
	}
	return tag
}

// stringAt is m[key] as a string: "" when absent or null, the value printed otherwise.
func stringAt(m Values, key string) string {
	v, ok := m[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// privilegedSidecarWords are the words one of the values PrivilegedSidecar looks for contains: raw
// values without any of them need not be decoded.
var privilegedSidecarWords = [][]byte{[]byte("privileged"), []byte("TPROXY"), []byte("IPTABLES_TRACE_LOGGING"), []byte("Unconfined")}

// PrivilegedSidecar names the key of spec.values that makes the sidecar injection adds need what the
// Pod Security levels baseline and restricted reject, whatever the data-plane mode: a privileged proxy
// (global.proxy.privileged, or iptables trace logging in the proxy's metadata), one that adds
// NET_ADMIN and runs as root (TPROXY interception), or containers whose seccomp profile is Unconfined
// (global.proxy.seccompProfile, which Istio's template sets on istio-proxy and its init container).
// "" when spec.values asks for none of them (nothing meshkeeper sets does).
func PrivilegedSidecar(spec *meshv1alpha1.ServiceMeshSpec) string {
	values := valuesWithAnyOf(spec, privilegedSidecarWords...)
	if values == nil {
		return ""
	}
	global, _ := values["global"].(Values)
	proxy, _ := global["proxy"].(Values)
	meshConfig, _ := values["meshConfig"].(Values)
	defaultConfig, _ := meshConfig["defaultConfig"].(Values)
	metadata, _ := defaultConfig["proxyMetadata"].(Values)
	switch {
	case stringAt(proxy, "privileged") == "true":
		return "global.proxy.privileged: true"
	case stringAt(defaultConfig, "interceptionMode") == "TPROXY":
		return "meshConfig.defaultConfig.interceptionMode: TPROXY"
	case stringAt(metadata, "IPTABLES_TRACE_LOGGING") == "true":
		return `meshConfig.defaultConfig.proxyMetadata.IPTABLES_TRACE_LOGGING: "true"`
	}
	if seccomp, _ := proxy["seccompProfile"].(Values); stringAt(seccomp, "type") == "Unconfined" {
		return "global.proxy.seccompProfile.type: Unconfined"
	}
	return ""
}

// RootSidecar names the key of spec.values that makes istio-proxy run as root without making it
// privileged: with global.proxy.capNetBindService true, Istio's template adds NET_BIND_SERVICE and sets
// runAsUser: 0 and runAsNonRoot: false. The Pod Security level baseline allows that; restricted does
// not. "" when spec.values does not ask for it.
func RootSidecar(spec *meshv1alpha1.ServiceMeshSpec) string {
	values := valuesWithAnyOf(spec, []byte("capNetBindService"))
	if values == nil {
		return ""
	}
	global, _ := values["global"].(Values)
	proxy, _ := global["proxy"].(Values)
	// The template compares the value's text with "true", so a string counts as a boolean does.
	if stringAt(proxy, "capNetBindService") == "true" {
		return "global.proxy.capNetBindService: true"
	}
	return ""
}

// SeccompLessSidecar names the key of spec.values that takes away the seccomp profile meshkeeper gives
// the sidecar's containers with the CNI agent (RuntimeDefault, injectionDefaults): a
// global.proxy.seccompProfile that is null (or another value that is no object), or whose type is null
// or empty. Istio's template then renders istio-proxy and istio-validation without a profile, or with
// one of no type, and the Pod Security level restricted, which asks every container for RuntimeDefault
// or Localhost, rejects them unless the pod sets a profile of its own for all its containers; baseline
// asks for none. "" when spec.values keeps a profile with a type (Unconfined is PrivilegedSidecar's),
// and without the CNI agent, where meshkeeper sets no profile and the init container is rejected
// anyway.
func SeccompLessSidecar(spec *meshv1alpha1.ServiceMeshSpec) string {
	if Mode(spec) != SidecarCNI {
		return ""
	}
	// The word, not a value: null has none that a prefilter could look for.
	values := valuesWithAnyOf(spec, []byte("seccompProfile"))
	global, _ := values["global"].(Values)
	proxy, _ := global["proxy"].(Values)
	profile, set := proxy["seccompProfile"]
	if !set {
		return ""
	}
	object, ok := profile.(Values)
	if !ok {
		return "global.proxy.seccompProfile: " + jsonText(profile)
	}
	// An object merges over meshkeeper's profile key by key: {} keeps RuntimeDefault.
	if typ, set := object["type"]; set && (typ == nil || typ == "") {
		return "global.proxy.seccompProfile.type: " + jsonText(typ)
	}
	return ""
}

// SidecarSeccompType is the type of the seccomp profile spec.values gives the sidecar's containers
// (global.proxy.seccompProfile.type, which Istio's template writes into istio-proxy and its init
// container); "" when it gives none. It is the only profile they get without the CNI agent.
func SidecarSeccompType(spec *meshv1alpha1.ServiceMeshSpec) string {
	values := valuesWithAnyOf(spec, []byte("seccompProfile"))
	global, _ := values["global"].(Values)
	proxy, _ := global["proxy"].(Values)
	profile, _ := proxy["seccompProfile"].(Values)
	return stringAt(profile, "type")
}

// jsonText is v as JSON, the way spec.values spells it.
func jsonText(v any) string {
	text, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(text)
}

// meshOutboundTrafficPolicy is the outbound traffic policy spec.values sets for the whole mesh
// (meshConfig.outboundTrafficPolicy.mode); "" when it sets none.
func meshOutboundTrafficPolicy(spec *meshv1alpha1.ServiceMeshSpec) string {
	values := valuesWithAnyOf(spec, []byte("outboundTrafficPolicy"))
	meshConfig, _ := values["meshConfig"].(Values)
	policy, _ := meshConfig["outboundTrafficPolicy"].(Values)
	return stringAt(policy, "mode")
}

// RootNamespace is Istio's root namespace, whose namespace-wide Sidecar is the mesh-wide default:
// meshConfig.rootNamespace of spec.values when set, else the control-plane namespace, as the istiod
// chart defaults it. The ServiceMesh CRD refuses any other than spec.namespace; a ServiceMesh stored
// before that rule may still have one.
func RootNamespace(spec *meshv1alpha1.ServiceMeshSpec) string {
	values := valuesWithAnyOf(spec, []byte("rootNamespace"))
	meshConfig, _ := values["meshConfig"].(Values)
	if root := stringAt(meshConfig, "rootNamespace"); root != "" {
		return root
	}
	return spec.Namespace
}

// valuesWithAnyOf decodes spec.values when its text holds one of words; nil when it holds none of them
// (most specs: nothing need be decoded then) or does not decode.
func valuesWithAnyOf(spec *meshv1alpha1.ServiceMeshSpec, words ...[]byte) Values {
	if spec.Values == nil || !slices.ContainsFunc(words, func(w []byte) bool { return bytes.Contains(spec.Values.Raw, w) }) {
		return nil
	}
	var values Values
	if err := json.Unmarshal(spec.Values.Raw, &values); err != nil {
		return nil
	}
	return values
}

// SeccompProfileProblems names the seccomp profiles of spec.values that the API server refuses in a
// container, each with its key: global.proxy.seccompProfile, which Istio's injection template writes
// into istio-proxy and its init container of every injected pod, and seccompProfile, istiod's own. A
// profile needs a type the API server knows (RuntimeDefault, Localhost, Unconfined), a localhostProfile
// with Localhost and none with the others. A value is merged key by key over the profile meshkeeper
// sets (RuntimeDefault: istiod's always, the sidecar's with the CNI agent), so a profile without a type
// keeps that one; null, or a value the templates' "if" reads as false ({}, "", false), takes the
// profile out, which the API server accepts. Such a spec would leave istiod's Deployment, or every pod
// the injector mutates in every enrolled namespace, refused. Nil when there is none.
func SeccompProfileProblems(spec *meshv1alpha1.ServiceMeshSpec) []string {
	values := valuesWithAnyOf(spec, []byte("seccompProfile"))
	if values == nil {
		return nil
	}
	global, _ := values["global"].(Values)
	proxy, _ := global["proxy"].(Values)
	var problems []string
	for _, at := range []struct {
		key       string
		in        Values
		defaulted bool // meshkeeper sets RuntimeDefault under the value
	}{
		{"global.proxy.seccompProfile", proxy, Mode(spec) == SidecarCNI},
		{"seccompProfile", values, true},
	} {
		profile, set := at.in["seccompProfile"]
		if !set || profile == nil {
			continue
		}
		object, ok := profile.(Values)
		if !ok {
			if profile == "" || profile == false || profile == float64(0) {
				continue // the template writes none
			}
			problems = append(problems, fmt.Sprintf("spec.values %s is %s: a seccomp profile is an object with a type", at.key, jsonText(profile)))
			continue
		}
		typ, typed := object["type"]
		switch {
		case !typed && at.defaulted:
			typ = string(corev1.SeccompProfileTypeRuntimeDefault)
		case !typed && len(object) == 0:
			continue // {} without a profile under it: the template writes none
		}
		localhost := object["localhostProfile"]
		switch typ {
		case string(corev1.SeccompProfileTypeRuntimeDefault), string(corev1.SeccompProfileTypeUnconfined):
			if localhost != nil {
				problems = append(problems, fmt.Sprintf("spec.values %s.localhostProfile is set with type %s: the API server takes a localhostProfile only with type Localhost", at.key, typ))
			}
		case string(corev1.SeccompProfileTypeLocalhost):
			file, text := localhost.(string)
			switch {
			case localhost == nil:
				problems = append(problems, fmt.Sprintf("spec.values %s has type Localhost without a localhostProfile, which the API server asks for", at.key))
			case !text:
				problems = append(problems, fmt.Sprintf("spec.values %s.localhostProfile is %s: it is the path of a profile file, a string", at.key, jsonText(localhost)))
			case path.IsAbs(file) || slices.Contains(strings.Split(file, "/"), ".."):
				problems = append(problems, fmt.Sprintf("spec.values %s.localhostProfile is %q: the API server takes a path relative to the kubelet's seccomp directory, without \"..\"", at.key, file))
			}
		default:
			problems = append(problems, fmt.Sprintf("spec.values %s.type is %s: the API server takes RuntimeDefault, Localhost or Unconfined", at.key, jsonText(typ)))
		}
	}
	return problems
}
