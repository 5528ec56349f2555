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

package v1alpha1

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"istio.io/istio/manifests"
	"sigs.k8s.io/yaml"
)

// keyClass is what meshkeeper decided about a key of spec.values.
type keyClass int

const (
	// allowed: the key shapes istiod, its proxies or its telemetry without moving rights elsewhere.
	allowed keyClass = iota
	// userData: a subtree of the user's own data (environment, mesh config, scheduling): its keys
	// need no decision of their own, except those listed as rejected.
	userData
	// imageHub: an image location, checked against the allowed image hubs when the mesh is reconciled.
	imageHub
	// rejected: the CRD refuses the key (or the subtree); why is a part of the rule's message.
	rejected
)

type decision struct {
	class keyClass
	why   string
}

// valueKeys classifies every key of the istiod and base charts' values.yaml, as a key of spec.values.
// A chart upgrade that adds a key fails TestEveryChartValueIsClassified until it is decided here (and,
// when rejected, in the CRD's rules on IstiodValues or ServiceMeshSpec).
var valueKeys = map[string]decision{
	// Rights, webhooks and identity: rejected.
	"revision":                      {rejected, "spec.values.revision, revisionTags and defaultRevision must not be set"},
	"revisionTags":                  {rejected, "spec.values.revision, revisionTags and defaultRevision must not be set"},
	"defaultRevision":               {rejected, "spec.values.revision, revisionTags and defaultRevision must not be set"},
	"istiodRemote":                  {rejected, "spec.values.istiodRemote must not be set"},
	"base.validationURL":            {rejected, "spec.values.base.validationURL must not be set"},
	"global.istioNamespace":         {rejected, "spec.values.global.istioNamespace must be empty or equal spec.namespace"},
	"global.remotePilotAddress":     {rejected, "spec.values.global.remotePilotAddress, externalIstiod and configCluster must not be set"},
	"global.externalIstiod":         {rejected, "spec.values.global.remotePilotAddress, externalIstiod and configCluster must not be set"},
	"global.configCluster":          {rejected, "spec.values.global.remotePilotAddress, externalIstiod and configCluster must not be set"},
	"global.readerServiceAccount":   {rejected, "spec.values.global.readerServiceAccount must not be set"},
	"global.operatorManageWebhooks": {rejected, "spec.values.global.operatorManageWebhooks must not be true"},
	"global.certSigners":            {rejected, "spec.values.global.certSigners must not name kubernetes.io/ signers"},
	"global.profile":                {rejected, "spec.values.profile and global.profile must not be 'remote'"},
	"profile":                       {rejected, "spec.values.profile and global.profile must not be 'remote'"},
	// Profile selectors the chart reads though its values.yaml lacks them: each must name a profile file
	// the chart ships (TestProfileSelectorsNameTheChartsProfiles).
	"platform":                     {rejected, "spec.values.platform and global.platform must be empty or a platform of the built-in istiod chart"},
	"global.platform":              {rejected, "spec.values.platform and global.platform must be empty or a platform of the built-in istiod chart"},
	"compatibilityVersion":         {rejected, "spec.values.compatibilityVersion must be empty or a compatibility version of the built-in istiod chart"},
	"env.EXTERNAL_ISTIOD":          {rejected, "spec.values.env.EXTERNAL_ISTIOD and env.CA_TRUSTED_NODE_ACCOUNTS must not be set"},
	"env.CA_TRUSTED_NODE_ACCOUNTS": {rejected, "spec.values.env.EXTERNAL_ISTIOD and env.CA_TRUSTED_NODE_ACCOUNTS must not be set"},
	"trustedZtunnelNamespace":      {rejected, "spec.values.trustedZtunnelNamespace must be empty or equal spec.namespace"},
	"meshConfig.rootNamespace":     {rejected, "spec.values.meshConfig.rootNamespace must be empty or equal spec.namespace"},
	"initContainers":               {rejected, "spec.values.initContainers must not be set"},
	// Injection and mesh config: istiod's injection webhook fails closed and meshkeeper's settings live
	// in the mesh config, so the keys that drop either are rejected.
	"global.omitSidecarInjectorConfigMap": {rejected, "spec.values.global.omitSidecarInjectorConfigMap must not be true"},
	"global.resourceScope":                {rejected, "spec.values.global.resourceScope must be all"},
	"configMap":                           {rejected, "spec.values.configMap must not be false"},
	// Which pods of an enrolled namespace are injected: meshkeeper counts every pod that does not opt
	// out (sidecar.istio.io/inject=false) as one that needs a sidecar.
	"global.proxy.autoInject":                          {rejected, "spec.values.global.proxy.autoInject must be enabled"},
	"sidecarInjectorWebhook.neverInjectSelector":       {rejected, "spec.values.sidecarInjectorWebhook.neverInjectSelector must not be set"},
	"sidecarInjectorWebhook.enableNamespacesByDefault": {rejected, "spec.values.sidecarInjectorWebhook.enableNamespacesByDefault must not be true"},
	"_internal_defaults_do_not_set":                    {rejected, "spec.values must not set _internal_defaults_do_not_set, defaults or pilot"},
	"defaults":                                         {rejected, "spec.values must not set _internal_defaults_do_not_set, defaults or pilot"},
	"pilot":                                            {rejected, "spec.values must not set _internal_defaults_do_not_set, defaults or pilot"},
	// envVarFrom is a list, not a key path: its entries that name the rejected env keys (the chart writes
	// them into istiod's environment after env's, and the last variable of a name wins).
	"envVarFrom[].name": {rejected, "spec.values.envVarFrom must not name EXTERNAL_ISTIOD or CA_TRUSTED_NODE_ACCOUNTS"},
	// volumes is a list too: its entries of the node's files (the chart guard refuses them as well).
	"volumes[].hostPath": {rejected, "spec.values.volumes must not hold a hostPath volume"},
	"volumes[].gitRepo":  {rejected, "spec.values.volumes must not hold a gitRepo volume"},

	// Image locations: checked against --allowed-image-hubs.
	"hub":                     {imageHub, "istiod's image hub"},
	"image":                   {imageHub, "istiod's image; a full reference when it holds a '/'"},
	"global.hub":              {imageHub, "the hub of every Istio image"},
	"global.proxy.image":      {imageHub, "the sidecar's image; a full reference when it holds a '/'"},
	"global.proxy_init.image": {imageHub, "the init container's image; a full reference when it holds a '/'"},
	"tag":                     {allowed, "the version is the hub's to serve"},
	"variant":                 {allowed, "image variant (distroless)"},
	"global.tag":              {allowed, "the version is the hub's to serve"},
	"global.variant":          {allowed, "image variant (distroless)"},
	"global.imagePullPolicy":  {allowed, "pull policy"},
	"global.imagePullSecrets": {allowed, "Secrets of the control-plane namespace for pulling from an allowed hub"},

	// User data: subtrees whose keys are the user's own.
	"env":                               {userData, "istiod's environment (the rejected keys above aside)"},
	"envVarFrom":                        {userData, "istiod's environment from objects in its own namespace (entries named as the rejected env keys aside)"},
	"meshConfig":                        {userData, "the mesh configuration (rootNamespace aside)"},
	"resources":                         {userData, "istiod's resources"},
	"autoscaleBehavior":                 {userData, "the HorizontalPodAutoscaler's behavior"},
	"seccompProfile":                    {userData, "istiod's seccomp profile"},
	"affinity":                          {userData, "scheduling"},
	"tolerations":                       {userData, "scheduling"},
	"nodeSelector":                      {userData, "scheduling"},
	"topologySpreadConstraints":         {userData, "scheduling"},
	"memory":                            {userData, "autoscaling on memory"},
	"volumes":                           {userData, "volumes of istiod's pod (hostPath and gitRepo aside; image volumes' images are checked against --allowed-image-hubs by the chart guard)"},
	"volumeMounts":                      {userData, "mounts of istiod's container"},
	"extraContainerArgs":                {userData, "istiod's flags; the image stays an allowed one"},
	"podAnnotations":                    {userData, "metadata"},
	"podLabels":                         {userData, "metadata"},
	"serviceAnnotations":                {userData, "metadata"},
	"serviceAccountAnnotations":         {userData, "metadata, such as a cloud identity for istiod itself"},
	"sidecarInjectorWebhookAnnotations": {userData, "metadata"},
	"deploymentLabels":                  {userData, "metadata"},
	"deploymentAnnotations":             {userData, "metadata"},
	"ipFamilies":                        {userData, "Service networking"},
	"gatewayClasses":                    {userData, "defaults of gateways users deploy"},
	"gateways.securityContext":          {userData, "gateways users deploy"},
	"gateways.seccompProfile":           {userData, "gateways users deploy"},
	"sidecarInjectorWebhook.templates":  {userData, "injection templates: writing a ServiceMesh shapes every injected pod, which is why it is a cluster-admin-level right"},
	"sidecarInjectorWebhook.alwaysInjectSelector": {userData, "pods always injected: no effect under global.proxy.autoInject enabled, which injects every pod of an enrolled namespace that does not opt out"},
	"sidecarInjectorWebhook.injectedAnnotations":  {userData, "annotations of injected pods"},
	"global.meshNetworks":                         {userData, "networks of a multi-network mesh"},
	"global.proxy.resources":                      {userData, "the sidecar's resources"},
	"global.proxy.seccompProfile":                 {userData, "the sidecar's seccomp profile"},
	"global.defaultResources":                     {userData, "resources of containers without their own"},
	"global.waypoint":                             {userData, "waypoint proxies users deploy"},

	// Allowed: settings of istiod, its proxies and telemetry that keep rights, webhooks and identity
	// where meshkeeper put them.
	"autoscaleEnabled": {allowed, "sizing"}, "autoscaleMin": {allowed, "sizing"}, "autoscaleMax": {allowed, "sizing"},
	"replicaCount": {allowed, "sizing"}, "rollingMaxSurge": {allowed, "rollout"}, "rollingMaxUnavailable": {allowed, "rollout"},
	"cpu.targetAverageUtilization": {allowed, "autoscaling"},
	"pdb.minAvailable":             {allowed, "disruption budget"}, "pdb.unhealthyPodEvictionPolicy": {allowed, "disruption budget"},
	"traceSampling": {allowed, "tracing"},
	"cni.enabled":   {allowed, "injection without an init container (istio-cni)"}, "cni.provider": {allowed, "CNI provider"},
	"taint.enabled": {allowed, "istio-cni node taint controller"}, "taint.namespace": {allowed, "where istio-cni runs"}, "taint.name": {allowed, "the taint's name"},
	"jwksResolverExtraRootCA":                    {allowed, "roots istiod trusts for JWKS fetches"},
	"keepaliveMaxServerConnectionAge":            {allowed, "xDS connection balancing"},
	"ipFamilyPolicy":                             {allowed, "Service networking"},
	"trustedZtunnelName":                         {allowed, "the ztunnel ServiceAccount's name, in spec.namespace (trustedZtunnelNamespace is checked)"},
	"sidecarInjectorWebhook.reinvocationPolicy":  {allowed, "webhook reinvocation"},
	"sidecarInjectorWebhook.rewriteAppHTTPProbe": {allowed, "probe rewriting"},
	"sidecarInjectorWebhook.defaultTemplates":    {allowed, "which templates apply by default"},
	"telemetry.enabled":                          {allowed, "telemetry"}, "telemetry.v2.enabled": {allowed, "telemetry"},
	"telemetry.v2.prometheus.enabled": {allowed, "telemetry"}, "telemetry.v2.stackdriver.enabled": {allowed, "telemetry"},
	"ownerName":                           {allowed, "a label value"},
	"experimental.stableValidationPolicy": {allowed, "a ValidatingAdmissionPolicy for stable APIs"},
	"base.enableIstioConfigCRDs":          {allowed, "CRD selection of the base chart"},
	"base.excludedCRDs":                   {allowed, "CRD selection of the base chart"},
	"base.enableCRDTemplates":             {allowed, "CRD selection of the base chart"},
	"base.validationCABundle":             {allowed, "the CA the API server trusts for istiod's validation webhook; the webhook still calls istiod"},
	"global.caAddress":                    {allowed, "an external CA such as istio-csr"},
	"global.caName":                       {allowed, "an external CA's name"},
	"global.pilotCertProvider":            {allowed, "who issues istiod's serving certificate (other than istiod, custom or none, with global.certSigners)"},
	"global.sds.token.aud":                {allowed, "audience of the proxies' tokens"},
	"global.sts.servicePort":              {allowed, "token exchange port"},
	"global.mountMtlsCerts":               {allowed, "file-mounted certificates"},
	"global.meshID":                       {allowed, "mesh name"}, "global.network": {allowed, "network name"},
	"global.multiCluster.clusterName":           {allowed, "cluster name"},
	"global.configValidation":                   {allowed, "whether Istio config is validated"},
	"global.defaultPodDisruptionBudget.enabled": {allowed, "disruption budget"},
	"global.istiod.enableAnalysis":              {allowed, "config analysis"},
	"global.logAsJson":                          {allowed, "logging"}, "global.logging.level": {allowed, "logging"},
	"global.nativeNftables":          {allowed, "nftables instead of iptables"},
	"global.networkPolicy.enabled":   {allowed, "a NetworkPolicy for istiod"},
	"global.priorityClassName":       {allowed, "scheduling"},
	"global.enableReaderRBAC":        {allowed, "turning the istio-reader role off"},
	"global.proxy.clusterDomain":     {allowed, "cluster DNS domain"},
	"global.proxy.componentLogLevel": {allowed, "logging"}, "global.proxy.logLevel": {allowed, "logging"},
	"global.proxy.excludeInboundPorts": {allowed, "traffic capture"}, "global.proxy.includeInboundPorts": {allowed, "traffic capture"},
	"global.proxy.includeIPRanges": {allowed, "traffic capture"}, "global.proxy.excludeIPRanges": {allowed, "traffic capture"},
	"global.proxy.includeOutboundPorts": {allowed, "traffic capture"}, "global.proxy.excludeOutboundPorts": {allowed, "traffic capture"},
	"global.proxy.outlierLogPath":            {allowed, "logging"},
	"global.proxy.privileged":                {allowed, "the sidecar's privileges in injected pods: a cluster-admin-level choice, like writing a ServiceMesh"},
	"global.proxy.readinessFailureThreshold": {allowed, "probes"}, "global.proxy.readinessInitialDelaySeconds": {allowed, "probes"},
	"global.proxy.readinessPeriodSeconds": {allowed, "probes"},
	"global.proxy.startupProbe.enabled":   {allowed, "probes"}, "global.proxy.startupProbe.failureThreshold": {allowed, "probes"},
	"global.proxy.statusPort": {allowed, "probes"}, "global.proxy.tracer": {allowed, "tracing"},
	"global.proxy_init.forceApplyIptables": {allowed, "traffic capture"},
}

// chartValueKeys are the key paths of the values.yaml of the built-in istiod and base charts: every
// subtree and every leaf, below the chart's _internal_defaults_do_not_set.
func chartValueKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	for _, file := range []string{"charts/istio-control/istio-discovery/values.yaml", "charts/base/values.yaml"} {
		data, err := fs.ReadFile(manifests.FS, file)
		if err != nil {
			t.Fatal(err)
		}
		var values map[string]any
		if err := yaml.Unmarshal(data, &values); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		defaults, ok := values["_internal_defaults_do_not_set"].(map[string]any)
		if !ok {
			t.Fatalf("%s has no _internal_defaults_do_not_set: the chart's layout changed", file)
		}
		var walk func(prefix string, m map[string]any)
		walk = func(prefix string, m map[string]any) {
			for k, v := range m {
				path := strings.TrimPrefix(prefix+"."+k, ".")
				keys = append(keys, path)
				if sub, ok := v.(map[string]any); ok {
					walk(path, sub)
				}
			}
		}
		walk("", defaults)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// classify is the decision for path: its own, or that of the nearest enclosing subtree that is
// rejected or user data.
func classify(path string) (decision, bool) {
	parts := strings.Split(path, ".")
	for i := 1; i < len(parts); i++ {
		if d, ok := valueKeys[strings.Join(parts[:i], ".")]; ok && (d.class == rejected || d.class == userData) {
			return d, true
		}
	}
	d, ok := valueKeys[path]
	if ok {
		return d, true
	}
	// An intermediate object is decided by its children.
	for key := range valueKeys {
		if strings.HasPrefix(key, path+".") {
			return decision{class: allowed, why: "decided key by key"}, true
		}
	}
	return decision{}, false
}

func TestEveryChartValueIsClassified(t *testing.T) {
	keys := chartValueKeys(t)
	if len(keys) < 100 {
		t.Fatalf("found only %d keys in the charts' values.yaml", len(keys))
	}
	for _, key := range keys {
		if _, ok := classify(key); !ok {
			t.Errorf("spec.values.%s is not classified: decide whether it is allowed or moves istiod's rights, webhooks or identity elsewhere (valueKeys, and a CRD rule if rejected)", key)
		}
	}
}

// crdRule is a validation rule of the CRD with its message.
type crdRule struct{ rule, message string }

// crdRules are the validation rules of the CRD, at any depth of its schema.
func crdRules(t *testing.T) []crdRule {
	t.Helper()
	crd, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "mesh.meshkeeper.io_servicemeshes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(crd, &doc); err != nil {
		t.Fatal(err)
	}
	var rules []crdRule
	var collect func(v any)
	collect = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if m, ok := v["message"].(string); ok {
				if r, ok := v["rule"].(string); ok {
					rules = append(rules, crdRule{rule: r, message: m})
				}
			}
			for _, sub := range v {
				collect(sub)
			}
		case []any:
			for _, sub := range v {
				collect(sub)
			}
		}
	}
	collect(doc)
	return rules
}

// TestRejectedKeysHaveRules: every rejection in the table is a rule of the CRD, with its message.
func TestRejectedKeysHaveRules(t *testing.T) {
	rules := crdRules(t)
	for key, d := range valueKeys {
		if d.class != rejected {
			continue
		}
		if !slices.ContainsFunc(rules, func(r crdRule) bool { return strings.HasPrefix(r.message, d.why) }) {
			t.Errorf("spec.values.%s is classified as rejected, but no CRD rule's message starts with %q", key, d.why)
		}
	}
}

// TestProfileSelectorsNameTheChartsProfiles: the values that choose a profile file of the istiod chart
// (profile and global.profile, platform and global.platform, compatibilityVersion), which its
// values.yaml does not list, are refused by the CRD unless they name a file the built-in chart ships:
// the chart fails to render with another. A chart upgrade that adds or drops a profile fails this until
// the CRD's rule follows.
func TestProfileSelectorsNameTheChartsProfiles(t *testing.T) {
	const dir = "charts/istio-control/istio-discovery/files"
	entries, err := fs.ReadDir(manifests.FS, dir)
	if err != nil {
		t.Fatal(err)
	}
	shipped := map[string][]string{}
	for _, e := range entries {
		name, ok := strings.CutPrefix(strings.TrimSuffix(e.Name(), ".yaml"), "profile-")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, "platform-"):
			shipped["platform"] = append(shipped["platform"], strings.TrimPrefix(name, "platform-"))
		case strings.HasPrefix(name, "compatibility-version-"):
			shipped["compatibilityVersion"] = append(shipped["compatibilityVersion"], strings.TrimPrefix(name, "compatibility-version-"))
		default:
			shipped["profile"] = append(shipped["profile"], name)
		}
	}
	if len(shipped["profile"]) == 0 || len(shipped["platform"]) == 0 || len(shipped["compatibilityVersion"]) == 0 {
		t.Fatalf("%s: found profiles %v: the chart's layout changed", dir, shipped)
	}
	rules := crdRules(t)
	quoted := regexp.MustCompile(`'([^']*)'`)
	for key, message := range map[string]string{
		"profile":              "spec.values.profile and global.profile must be empty or a profile",
		"platform":             "spec.values.platform and global.platform must be empty or a platform",
		"compatibilityVersion": "spec.values.compatibilityVersion must be empty or a compatibility version",
	} {
		i := slices.IndexFunc(rules, func(r crdRule) bool { return strings.HasPrefix(r.message, message) })
		if i < 0 {
			t.Errorf("no CRD rule checks spec.values.%s (a message starting %q)", key, message)
			continue
		}
		var admitted []string
		for _, m := range quoted.FindAllStringSubmatch(rules[i].rule, -1) {
			if m[1] != "" {
				admitted = append(admitted, m[1])
			}
		}
		slices.Sort(admitted)
		want := slices.Sorted(slices.Values(shipped[key]))
		if !slices.Equal(slices.Compact(admitted), want) {
			t.Errorf("the CRD admits spec.values.%s %v; the built-in istiod chart ships %v", key, slices.Compact(admitted), want)
		}
	}
}
