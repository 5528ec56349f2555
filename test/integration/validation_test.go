//go:build envtest

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

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// meshYAML is a ServiceMesh named default with the given spec (indented YAML under "spec:").
func meshYAML(spec string) string {
	return "apiVersion: mesh.meshkeeper.io/v1alpha1\nkind: ServiceMesh\nmetadata:\n  name: default\nspec:\n" + spec
}

func parse(manifest string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	ExpectWithOffset(1, yaml.Unmarshal([]byte(manifest), &u.Object)).To(Succeed())
	return u
}

func deleteMesh() {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	ExpectWithOffset(1, client.IgnoreNotFound(k8sClient.Delete(ctx, mesh))).To(Succeed())
	EventuallyWithOffset(1, func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), mesh))
	}, 10*time.Second, 50*time.Millisecond).Should(BeTrue())
}

var _ = Describe("ServiceMesh validation", func() {
	AfterEach(deleteMesh)

	DescribeTable("rejects an invalid ServiceMesh with a message that says what to fix",
		func(manifest, message string) {
			err := k8sClient.Create(ctx, parse(manifest))
			Expect(err).To(HaveOccurred(), "the API server accepted an invalid ServiceMesh")
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("a name other than default",
			strings.Replace(meshYAML("  version: 1.31.1\n"), "name: default", "name: prod", 1),
			"a cluster has one ServiceMesh and it must be named 'default'"),
		Entry("a version without a patch number", meshYAML("  version: \"1.31\"\n"),
			`spec.version: Invalid value: "1.31": spec.version in body should match`),
		Entry("a version with a v prefix", meshYAML("  version: v1.31.1\n"),
			`spec.version: Invalid value: "v1.31.1"`),
		Entry("a version that is a tag name", meshYAML("  version: latest\n"),
			`spec.version: Invalid value: "latest"`),
		// The revision of a version is the version with dots as dashes, and istiod's Service of the
		// revision is istiod-<revision>: a DNS label, lowercase, ending in a letter or digit, at most 63
		// characters.
		Entry("a version with a capitalised pre-release", meshYAML("  version: 1.31.0-RC.1\n"),
			`spec.version: Invalid value: "1.31.0-RC.1": spec.version in body should match`),
		Entry("a version that ends in a dash", meshYAML("  version: \"1.31.0-\"\n"),
			`spec.version: Invalid value: "1.31.0-": spec.version in body should match`),
		Entry("a version with a leading zero", meshYAML("  version: 01.31.1\n"),
			`spec.version: Invalid value: "01.31.1": spec.version in body should match`),
		Entry("a patch with a leading zero", meshYAML("  version: 1.31.01\n"),
			`spec.version: Invalid value: "1.31.01": spec.version in body should match`),
		Entry("a pre-release that ends in a dash", meshYAML("  version: 1.31.0-rc-\n"),
			`spec.version: Invalid value: "1.31.0-rc-": spec.version in body should match`),
		Entry("a version that ends in a dot", meshYAML("  version: 1.31.0-rc.\n"),
			`spec.version: Invalid value: "1.31.0-rc.": spec.version in body should match`),
		Entry("a version whose revision's istiod-<revision> is longer than 63 characters",
			meshYAML("  version: 1.31.0-"+strings.Repeat("a", 50)+"\n"),
			"spec.version: Too long: may not be more than 56"),
		Entry("a control-plane namespace that is not a DNS label", meshYAML("  namespace: Istio_System\n"),
			`spec.namespace: Invalid value: "Istio_System"`),
		Entry("a control-plane namespace longer than 63 characters",
			meshYAML("  namespace: "+strings.Repeat("a", 64)+"\n"), "spec.namespace: Too long"),
		Entry("a chart repository over plain http", meshYAML("  charts:\n    repository: http://charts.example.com\n"),
			"charts.repository must be empty (built-in charts) or an https:// or oci:// URL, without spaces or control characters"),
		Entry("a chart repository with another scheme", meshYAML("  charts:\n    repository: ftp://charts.example.com\n"),
			"charts.repository must be empty (built-in charts) or an https:// or oci:// URL, without spaces or control characters"),
		Entry("a chart repository with a tab in it", meshYAML("  charts:\n    repository: \"https://charts.example.com/\\tistio\"\n"),
			"charts.repository must be empty (built-in charts) or an https:// or oci:// URL, without spaces or control characters"),
		Entry("a chart repository with a line break in it", meshYAML("  charts:\n    repository: \"https://charts.example.com\\n/istio\"\n"),
			"charts.repository must be empty (built-in charts) or an https:// or oci:// URL, without spaces or control characters"),
		Entry("an unknown image pull policy", meshYAML("  images:\n    pullPolicy: Sometimes\n"),
			`spec.images.pullPolicy: Unsupported value: "Sometimes"`),
		Entry("an empty image hub", meshYAML("  images:\n    hub: \"\"\n"),
			"spec.images.hub: Invalid value"),
		Entry("replicas and autoscaling together",
			meshYAML("  controlPlane:\n    replicas: 2\n    autoscaling:\n      minReplicas: 2\n      maxReplicas: 5\n"),
			"set either controlPlane.replicas or controlPlane.autoscaling, not both"),
		Entry("zero istiod replicas", meshYAML("  controlPlane:\n    replicas: 0\n"),
			"spec.controlPlane.replicas: Invalid value: 0: spec.controlPlane.replicas in body should be greater than or equal to 1"),
		Entry("autoscaling with minReplicas above maxReplicas",
			meshYAML("  controlPlane:\n    autoscaling:\n      minReplicas: 5\n      maxReplicas: 2\n"),
			"controlPlane.autoscaling.minReplicas must not exceed maxReplicas"),
		Entry("autoscaling down to zero",
			meshYAML("  controlPlane:\n    autoscaling:\n      minReplicas: 0\n      maxReplicas: 2\n"),
			"spec.controlPlane.autoscaling.minReplicas in body should be greater than or equal to 1"),
		Entry("a debounce that is not a duration", meshYAML("  controlPlane:\n    pushTuning:\n      debounceAfter: fast\n"),
			`spec.controlPlane.pushTuning.debounceAfter: Invalid value: "fast"`),
		// A duration past Go's time.Duration (about 292 years) matches the pattern, but no client could
		// decode the object: the manager's cache would stop seeing the ServiceMesh, deletion included.
		Entry("a revision grace period longer than a year",
			meshYAML("  updateStrategy:\n    type: RevisionBased\n    inactiveRevisionDeletionGracePeriod: 3000000h\n"),
			"updateStrategy.inactiveRevisionDeletionGracePeriod must be at most 8760h (a year)"),
		Entry("a push throttle of zero", meshYAML("  controlPlane:\n    pushTuning:\n      pushThrottle: 0\n"),
			"spec.controlPlane.pushTuning.pushThrottle in body should be greater than or equal to 1"),
		Entry("debounceAfter longer than debounceMax",
			meshYAML("  controlPlane:\n    pushTuning:\n      debounceAfter: 20s\n      debounceMax: 10s\n"),
			"controlPlane.pushTuning.debounceAfter must not exceed debounceMax"),
		Entry("a resource quantity that is not a quantity",
			meshYAML("  controlPlane:\n    resources:\n      requests:\n        cpu: lots\n"),
			"spec.controlPlane.resources.requests.cpu"),
		Entry("a priority class name that is not a DNS name", meshYAML("  controlPlane:\n    priorityClassName: High_Priority\n"),
			`spec.controlPlane.priorityClassName: Invalid value: "High_Priority"`),
		Entry("an enrolled namespace that is not a DNS label", meshYAML("  injection:\n    namespaces: [Shop]\n"),
			`spec.injection.namespaces[0]: Invalid value: "Shop"`),
		Entry("an enrolled system namespace", meshYAML("  injection:\n    namespaces: [shop, kube-system]\n"),
			"Istio's injector never injects their pods, so meshkeeper never enrolls them"),
		Entry("local-path-storage enrolled, which Istio's injector never injects either",
			meshYAML("  injection:\n    namespaces: [local-path-storage]\n"),
			"injection.namespaces must not list kube-node-lease, kube-public, kube-system or local-path-storage: Istio's injector never injects their pods"),
		Entry("the control-plane namespace enrolled", meshYAML("  injection:\n    namespaces: [istio-system]\n"),
			"injection.namespaces must not list the control-plane namespace (spec.namespace)"),
		Entry("the same namespace enrolled twice", meshYAML("  injection:\n    namespaces: [shop, shop]\n"),
			`spec.injection.namespaces[1]: Duplicate value: "shop"`),
		Entry("an mTLS mode Istio has but meshkeeper does not offer", meshYAML("  mtls:\n    mode: DISABLE\n"),
			`spec.mtls.mode: Unsupported value: "DISABLE"`),
		Entry("an mTLS override for a name that is not a namespace", meshYAML("  mtls:\n    namespaces:\n      Legacy_NS: PERMISSIVE\n"),
			"mtls.namespaces keys must be namespace names"),
		Entry("an mTLS override for the control-plane namespace", meshYAML("  mtls:\n    mode: PERMISSIVE\n    namespaces:\n      istio-system: STRICT\n"),
			"mtls.namespaces must not list the control-plane namespace (spec.namespace)"),
		Entry("an mTLS override with an unknown mode", meshYAML("  mtls:\n    namespaces:\n      legacy: \"OFF\"\n"),
			`spec.mtls.namespaces.legacy: Unsupported value: "OFF": supported values: "PERMISSIVE", "STRICT"`),
		Entry("an egress host without a namespace part", meshYAML("  sidecarScoping:\n    egressHosts: [payments]\n"),
			`spec.sidecarScoping.egressHosts[0]: Invalid value: "payments"`),
		Entry("an egress host with a short name, which istiod refuses", meshYAML("  sidecarScoping:\n    egressHosts: [payments/payments-api]\n"),
			`spec.sidecarScoping.egressHosts[0]: Invalid value: "payments/payments-api"`),
		Entry("an egress host that is an IP address", meshYAML("  sidecarScoping:\n    egressHosts: [\"*/10.0.0.1\"]\n"),
			"an egress host's dnsName must not end in an all-digit label"),
		Entry("an unknown outbound traffic policy", meshYAML("  sidecarScoping:\n    outboundTrafficPolicy: DENY\n"),
			`spec.sidecarScoping.outboundTrafficPolicy: Unsupported value: "DENY"`),
		Entry("an ingress controller of an unsupported kind",
			meshYAML("  ingressNginx:\n    controller:\n      kind: StatefulSet\n"),
			`spec.ingressNginx.controller.kind: Unsupported value: "StatefulSet"`),
		Entry("an ingress controller name that is not a DNS name",
			meshYAML("  ingressNginx:\n    controller:\n      name: Ingress_Nginx\n"),
			`spec.ingressNginx.controller.name: Invalid value: "Ingress_Nginx"`),
		Entry("a Service CIDR with a prefix too long", meshYAML("  ingressNginx:\n    serviceCIDRs: [10.96.0.0/33]\n"),
			"ingressNginx.serviceCIDRs entries must be CIDRs"),
		Entry("a Service CIDR that is not an address", meshYAML("  ingressNginx:\n    serviceCIDRs: [cluster-services]\n"),
			"ingressNginx.serviceCIDRs entries must be CIDRs"),
		Entry("a CNI namespace other than the control plane's or kube-system", meshYAML("  cni:\n    namespace: default\n"),
			"spec.cni.namespace must be empty, spec.namespace or kube-system"),
		Entry("a relative CNI binary directory", meshYAML("  cni:\n    cniBinDir: opt/cni/bin\n"),
			`spec.cni.cniBinDir: Invalid value: "opt/cni/bin"`),
		Entry("a CNI configuration directory with a space", meshYAML("  cni:\n    cniConfDir: \"/etc/cni/net d\"\n"),
			`spec.cni.cniConfDir: Invalid value: "/etc/cni/net d"`),
		Entry("a CNI priority class that is not a DNS name", meshYAML("  cni:\n    priorityClassName: Node_Critical\n"),
			`spec.cni.priorityClassName: Invalid value: "Node_Critical"`),
		Entry("an empty CNI priority class", meshYAML("  cni:\n    priorityClassName: \"\"\n"),
			`spec.cni.priorityClassName: Invalid value: ""`),
		Entry("an empty list of CNI tolerations (unset tolerates every taint)",
			meshYAML("  cni:\n    tolerations: []\n"),
			"cni.tolerations must not be an empty list: leave it out to tolerate every taint (the default), or list the tolerations the agent should have"),
		Entry("an empty list of Service CIDRs (unset reads them from the cluster)",
			meshYAML("  ingressNginx:\n    enabled: true\n    serviceCIDRs: []\n"),
			"spec.ingressNginx.serviceCIDRs in body should have at least 1 items"),
		Entry("an empty ingress class name", meshYAML("  ingressNginx:\n    ingressClassNames: [\"\"]\n"),
			"spec.ingressNginx.ingressClassNames[0]"),
		Entry("chart values that are not an object", meshYAML("  values: replicaCount=3\n"),
			"spec.values: Invalid value: \"string\": spec.values in body must be of type object"),

		// Values that would move istiod's rights, webhooks or identity elsewhere (docs/security.md).
		Entry("istiod's rights bound in another namespace", meshYAML("  values:\n    global:\n      istioNamespace: team-a\n"),
			"spec.values.global.istioNamespace must be empty or equal spec.namespace: the charts bind istiod's cluster-wide roles to the ServiceAccount in that namespace"),
		Entry("istioNamespace other than a custom spec.namespace",
			meshYAML("  namespace: mesh-system\n  values:\n    global:\n      istioNamespace: istio-system\n"),
			"spec.values.global.istioNamespace must be empty or equal spec.namespace"),
		Entry("a revision", meshYAML("  values:\n    revision: canary\n"),
			"spec.values.revision, revisionTags and defaultRevision must not be set: meshkeeper owns the control plane's revisions"),
		Entry("revision tags", meshYAML("  values:\n    revisionTags: [prod]\n"),
			"spec.values.revision, revisionTags and defaultRevision must not be set"),
		Entry("a default revision", meshYAML("  values:\n    defaultRevision: canary\n"),
			"spec.values.revision, revisionTags and defaultRevision must not be set"),
		Entry("the injection webhook pointed at a URL", meshYAML("  values:\n    istiodRemote:\n      injectionURL: https://attacker.example.com/inject\n"),
			"spec.values.istiodRemote must not be set: it points the sidecar injection webhook at another URL"),
		Entry("istiod as a remote", meshYAML("  values:\n    istiodRemote:\n      enabled: true\n"),
			"spec.values.istiodRemote must not be set"),
		Entry("the validation webhook pointed at a URL", meshYAML("  values:\n    base:\n      validationURL: https://attacker.example.com/validate\n"),
			"spec.values.base.validationURL must not be set: it sends every Istio configuration change to another URL"),
		Entry("a remote pilot address", meshYAML("  values:\n    global:\n      remotePilotAddress: 203.0.113.7\n"),
			"spec.values.global.remotePilotAddress, externalIstiod and configCluster must not be set: they configure multi-cluster topologies"),
		Entry("an external istiod", meshYAML("  values:\n    global:\n      externalIstiod: true\n"),
			"spec.values.global.remotePilotAddress, externalIstiod and configCluster must not be set"),
		Entry("a config cluster", meshYAML("  values:\n    global:\n      configCluster: true\n"),
			"spec.values.global.remotePilotAddress, externalIstiod and configCluster must not be set"),
		Entry("EXTERNAL_ISTIOD in istiod's environment", meshYAML("  values:\n    env:\n      EXTERNAL_ISTIOD: \"true\"\n"),
			"spec.values.env.EXTERNAL_ISTIOD and env.CA_TRUSTED_NODE_ACCOUNTS must not be set"),
		Entry("node accounts trusted to obtain any pod's certificate", meshYAML("  values:\n    env:\n      CA_TRUSTED_NODE_ACCOUNTS: team-a/agent\n"),
			"the second lets the ServiceAccounts it names obtain certificates for any pod on their node"),
		Entry("node accounts trusted through envVarFrom, which the chart writes after env and its own default",
			meshYAML("  values:\n    envVarFrom:\n    - name: PILOT_TRACE_SAMPLING\n      value: \"1\"\n    - name: CA_TRUSTED_NODE_ACCOUNTS\n      value: other-ns/sa\n"),
			"spec.values.envVarFrom[1].name: Invalid value: \"CA_TRUSTED_NODE_ACCOUNTS\": spec.values.envVarFrom must not name EXTERNAL_ISTIOD or CA_TRUSTED_NODE_ACCOUNTS"),
		Entry("an external CA without its signer, which has the chart grant approval for every signer",
			meshYAML("  values:\n    env:\n      EXTERNAL_CA: ISTIOD_RA_KUBERNETES_API\n"),
			"spec.values.global.certSigners must name your CA's signer when env.EXTERNAL_CA is set"),
		Entry("istiod's certificate signed by Kubernetes without a signer named",
			meshYAML("  values:\n    global:\n      pilotCertProvider: kubernetes\n      certSigners: []\n"),
			"spec.values.global.certSigners must name your CA's signer when env.EXTERNAL_CA is set or global.pilotCertProvider is other than istiod, custom or none"),
		Entry("a hostPath volume for istiod, beside a volume of its own",
			meshYAML("  values:\n    volumes:\n    - name: extra-roots\n      configMap:\n        name: roots\n    - name: node-root\n      hostPath:\n        path: /\n"),
			"spec.values.volumes[1]: Invalid value: spec.values.volumes must not hold a hostPath volume"),
		Entry("a gitRepo volume for istiod",
			meshYAML("  values:\n    volumes:\n    - name: payload\n      gitRepo:\n        repository: https://git.example.com/payload.git\n"),
			"spec.values.volumes[0]: Invalid value: spec.values.volumes must not hold a gitRepo volume"),
		Entry("EXTERNAL_ISTIOD through envVarFrom, from a ConfigMap",
			meshYAML("  values:\n    envVarFrom:\n    - name: EXTERNAL_ISTIOD\n      valueFrom:\n        configMapKeyRef:\n          name: istiod-settings\n          key: external\n"),
			"spec.values.envVarFrom must not name EXTERNAL_ISTIOD or CA_TRUSTED_NODE_ACCOUNTS"),
		Entry("a ztunnel trusted in another namespace", meshYAML("  values:\n    trustedZtunnelNamespace: team-a\n"),
			"spec.values.trustedZtunnelNamespace must be empty or equal spec.namespace"),
		Entry("the istio-reader role bound to another ServiceAccount",
			meshYAML("  values:\n    global:\n      readerServiceAccount:\n        name: reader\n        namespace: team-a\n"),
			"spec.values.global.readerServiceAccount must not be set: it binds the istio-reader ClusterRole, which reads every Secret in the cluster"),
		Entry("webhooks left to another installer", meshYAML("  values:\n    global:\n      operatorManageWebhooks: true\n"),
			"spec.values.global.operatorManageWebhooks must not be true: meshkeeper installs istiod's webhooks"),
		Entry("a Kubernetes signer istiod may approve", meshYAML("  values:\n    global:\n      certSigners: [example.com/ca, kubernetes.io/kube-apiserver-client]\n"),
			"spec.values.global.certSigners must not name kubernetes.io/ signers"),
		Entry("the remote profile", meshYAML("  values:\n    profile: remote\n"),
			"spec.values.profile and global.profile must not be 'remote'"),
		Entry("the remote profile under global", meshYAML("  values:\n    global:\n      profile: remote\n"),
			"spec.values.profile and global.profile must not be 'remote'"),
		Entry("sidecar resources under the demo profile, whose 40Mi request the chart puts over them",
			meshYAML("  proxy:\n    resources:\n      limits:\n        memory: 32Mi\n  values:\n    profile: demo\n"),
			"proxy.resources and controlPlane.resources must not be set with spec.values.profile 'demo'"),
		Entry("istiod's resources under the demo profile named under global",
			meshYAML("  controlPlane:\n    resources:\n      requests:\n        memory: 2Gi\n  values:\n    global:\n      profile: demo\n"),
			"the demo profile's own resource requests (10m CPU, 40Mi memory for sidecars, 100Mi for istiod) are merged over them"),
		Entry("values hidden in the chart's defaults", meshYAML("  values:\n    _internal_defaults_do_not_set:\n      revision: canary\n"),
			"spec.values must not set _internal_defaults_do_not_set, defaults or pilot: the chart merges them over the other values"),
		Entry("values under defaults", meshYAML("  values:\n    defaults:\n      hub: example.com\n"),
			"spec.values must not set _internal_defaults_do_not_set, defaults or pilot"),
		Entry("values under pilot", meshYAML("  values:\n    pilot:\n      istiodRemote:\n        enabled: true\n"),
			"set their keys at the top level of spec.values instead (pilot.env becomes env)"),
		Entry("init containers in istiod's pod", meshYAML("  values:\n    initContainers:\n    - name: x\n      image: example.com/x\n"),
			"spec.values.initContainers must not be set: init containers run with istiod's ServiceAccount token"),
		Entry("a root namespace other than the control plane's", meshYAML("  values:\n    meshConfig:\n      rootNamespace: team-a\n"),
			"spec.values.meshConfig.rootNamespace must be empty or equal spec.namespace"),
		Entry("every namespace injected by default", meshYAML("  values:\n    sidecarInjectorWebhook:\n      enableNamespacesByDefault: true\n"),
			"spec.values.sidecarInjectorWebhook.enableNamespacesByDefault must not be true"),
		Entry("istiod's injector left without its ConfigMap, behind the fail-closed webhook",
			meshYAML("  values:\n    global:\n      omitSidecarInjectorConfigMap: true\n"),
			"spec.values.global.omitSidecarInjectorConfigMap must not be true: without the injector's ConfigMap istiod serves no injection"),
		Entry("the chart's cluster objects alone, without istiod", meshYAML("  values:\n    global:\n      resourceScope: cluster\n"),
			"spec.values.global.resourceScope must be all: with cluster the chart renders no istiod"),
		Entry("the chart's namespace objects alone", meshYAML("  values:\n    global:\n      resourceScope: namespace\n"),
			"spec.values.global.resourceScope must be all"),
		Entry("no mesh config ConfigMap", meshYAML("  values:\n    configMap: false\n"),
			"spec.values.configMap must not be false: the chart then writes no mesh config"),
		// Which pods of an enrolled namespace istiod injects: meshkeeper counts every pod that does not opt
		// out as one that needs a sidecar.
		Entry("injection only of the pods that ask for it", meshYAML("  values:\n    global:\n      proxy:\n        autoInject: disabled\n"),
			"spec.values.global.proxy.autoInject must be enabled: with another policy istiod injects only the pods labelled sidecar.istio.io/inject=true"),
		Entry("pods left uninjected by a selector", meshYAML("  values:\n    sidecarInjectorWebhook:\n      neverInjectSelector:\n      - matchLabels:\n          batch: \"true\"\n"),
			"spec.values.sidecarInjectorWebhook.neverInjectSelector must not be set: istiod leaves the pods it selects uninjected"),
		// The chart renders a profile file of each name it reads, and fails for a name it has none of.
		Entry("a platform the chart has no profile of", meshYAML("  values:\n    global:\n      platform: openshfit\n"),
			"spec.values.platform and global.platform must be empty or a platform of the built-in istiod chart (gke, k3d, k3s, microk8s, minikube, openshift)"),
		Entry("a platform at the top of values the chart has no profile of", meshYAML("  values:\n    platform: eks\n"),
			"spec.values.platform and global.platform must be empty or a platform of the built-in istiod chart"),
		Entry("a profile the chart does not ship", meshYAML("  values:\n    profile: minimal\n"),
			"spec.values.profile and global.profile must be empty or a profile of the built-in istiod chart (ambient, demo, preview, stable)"),
		Entry("a profile under global the chart does not ship", meshYAML("  values:\n    global:\n      profile: default\n"),
			"spec.values.profile and global.profile must be empty or a profile of the built-in istiod chart"),
		Entry("a compatibility version the chart does not ship", meshYAML("  values:\n    compatibilityVersion: \"1.24\"\n"),
			"spec.values.compatibilityVersion must be empty or a compatibility version of the built-in istiod chart (1.25 to 1.30, as a string)"),
		Entry("a compatibility version as a number, which the chart reads as another", meshYAML("  values:\n    compatibilityVersion: 1.30\n"),
			"spec.values.compatibilityVersion: Invalid value: \"number\""),
		Entry("chart credentials without a repository", meshYAML("  charts:\n    credentialsSecret: istio-charts\n"),
			"charts.credentialsSecret needs charts.repository"),
		Entry("chart credentials that are not a Secret name",
			meshYAML("  charts:\n    repository: https://charts.example.com\n    credentialsSecret: Istio_Charts\n"),
			`spec.charts.credentialsSecret: Invalid value: "Istio_Charts"`),

		// Without the RevisionBased strategy a canary has no revision to serve it: a change of version
		// would reach every namespace in place at once, the canary namespaces included.
		Entry("canary namespaces without the RevisionBased strategy",
			meshYAML("  version: 1.31.1\n  injection:\n    namespaces: [shop]\n  updateStrategy:\n    canary:\n      namespaces: [shop]\n"),
			"updateStrategy.canary needs updateStrategy.type RevisionBased"),

		// The charts write each image as <hub>/<name>:<tag>; the API server does not check image
		// references, so a hub that makes an invalid one would leave istiod's pods in InvalidImageName.
		Entry("an image hub with a trailing slash", meshYAML("  images:\n    hub: docker.io/istio/\n"),
			`spec.images.hub: Invalid value: "docker.io/istio/"`),
		Entry("an image hub with a capital in its path", meshYAML("  images:\n    hub: registry.example.com/Istio\n"),
			`spec.images.hub: Invalid value: "registry.example.com/Istio"`),
		Entry("an image hub with a scheme", meshYAML("  images:\n    hub: https://registry.example.com/istio\n"),
			`spec.images.hub: Invalid value: "https://registry.example.com/istio"`),
		Entry("an image hub with a tag", meshYAML("  images:\n    hub: registry.example.com/istio:1.31\n"),
			`spec.images.hub: Invalid value: "registry.example.com/istio:1.31"`),

		// Tolerations the API server would refuse in istiod's Deployment or the istio-cni DaemonSet.
		Entry("an istiod toleration with a lowercase operator",
			meshYAML("  controlPlane:\n    tolerations:\n    - key: infra\n      operator: exists\n"),
			"spec.controlPlane.tolerations[0]: Invalid value: a toleration's operator must be Exists or Equal"),
		Entry("an istiod toleration with a misspelt effect",
			meshYAML("  controlPlane:\n    tolerations:\n    - key: infra\n      operator: Exists\n      effect: NoSchedul\n"),
			"spec.controlPlane.tolerations[0]: Invalid value: a toleration's effect must be NoSchedule, PreferNoSchedule or NoExecute"),
		Entry("an istiod toleration with operator Exists and a value",
			meshYAML("  controlPlane:\n    tolerations:\n    - key: infra\n      operator: Exists\n      value: \"true\"\n"),
			"spec.controlPlane.tolerations[0]: Invalid value: a toleration with operator Exists must have no value"),
		Entry("an istiod toleration without a key that is not Exists",
			meshYAML("  controlPlane:\n    tolerations:\n    - value: infra\n      effect: NoSchedule\n"),
			"spec.controlPlane.tolerations[0]: Invalid value: a toleration without a key must have operator Exists"),
		Entry("an istiod toleration with tolerationSeconds for NoSchedule",
			meshYAML("  controlPlane:\n    tolerations:\n    - key: infra\n      operator: Exists\n      effect: NoSchedule\n      tolerationSeconds: 30\n"),
			"spec.controlPlane.tolerations[0]: Invalid value: a toleration's tolerationSeconds needs effect NoExecute"),
		Entry("a CNI agent toleration with a lowercase operator",
			meshYAML("  cni:\n    tolerations:\n    - operator: exists\n"),
			"spec.cni.tolerations[0]: Invalid value: a toleration's operator must be Exists or Equal"),
	)

	It("keeps spec.namespace immutable", func() {
		Expect(k8sClient.Create(ctx, parse(meshYAML("  namespace: istio-system\n")))).To(Succeed())
		err := patchSpec(`{"namespace": "mesh-system"}`)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.namespace is immutable"))
	})

	It("accepts the documented sample and fills in the defaults", func() {
		sample, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "mesh_v1alpha1_servicemesh.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Create(ctx, parse(string(sample)))).To(Succeed())

		mesh := &meshv1alpha1.ServiceMesh{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "default"}, mesh)).To(Succeed())
		spec := mesh.Spec
		Expect(spec.Namespace).To(Equal("istio-system"))
		Expect(spec.Version).To(BeEmpty(), "an unset version means the built-in charts' version")
		Expect(spec.Injection.Namespaces).To(Equal([]string{"shop"}))
		Expect(*spec.ControlPlane.Replicas).To(BeEquivalentTo(2))
		Expect(spec.ControlPlane.Resources.Requests.Memory().String()).To(Equal("2Gi"))
		expectDefaults(mesh)
	})

	It("fills in every default for an empty spec", func() {
		Expect(k8sClient.Create(ctx, parse("apiVersion: mesh.meshkeeper.io/v1alpha1\nkind: ServiceMesh\nmetadata:\n  name: default\n"))).To(Succeed())
		mesh := &meshv1alpha1.ServiceMesh{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "default"}, mesh)).To(Succeed())
		Expect(mesh.Spec.Namespace).To(Equal("istio-system"))
		Expect(mesh.Spec.ControlPlane.Replicas).To(BeNil(), "replicas has no CRD default, so autoscaling can be chosen instead")
		Expect(mesh.Spec.ControlPlane.Autoscaling).To(BeNil())
		expectDefaults(mesh)
	})

	DescribeTable("accepts valid specs",
		func(spec string) {
			Expect(k8sClient.Create(ctx, parse(meshYAML(spec)))).To(Succeed())
		},
		Entry("a pinned version from an OCI registry",
			"  version: 1.31.1\n  charts:\n    repository: oci://registry.example.com/istio-charts\n"),
		Entry("a pre-release version from an https repository",
			"  version: 1.32.0-beta.1\n  charts:\n    repository: https://istio-release.storage.googleapis.com/charts\n"),
		Entry("a release candidate", "  version: 1.31.0-rc.0\n"),
		Entry("a revision grace period of a year",
			"  updateStrategy:\n    type: RevisionBased\n    inactiveRevisionDeletionGracePeriod: 8760h\n"),
		Entry("a pre-release with dashes and dots", "  version: 1.32.0-alpha.0-a1b2c3d.20260101\n"),
		Entry("the longest version: istiod-<revision> is 63 characters",
			"  version: 1.31.0-"+strings.Repeat("a", 49)+"\n"),
		Entry("istiod's environment from a Secret and the pod, through envVarFrom",
			"  values:\n    envVarFrom:\n    - name: EXTERNAL_CA_TOKEN\n      valueFrom:\n        secretKeyRef:\n          name: ca-token\n          key: token\n    - name: NODE_NAME\n      valueFrom:\n        fieldRef:\n          fieldPath: spec.nodeName\n    - name: MY_CA_TRUSTED_NODE_ACCOUNTS\n      value: \"\"\n"),
		Entry("istiod's certificate from istiod itself, or from a CA of the platform's own signer",
			"  values:\n    global:\n      pilotCertProvider: istiod\n    env:\n      EXTERNAL_CA: \"\"\n"),
		Entry("istiod's certificate signed through the Kubernetes API by a named signer",
			"  values:\n    global:\n      pilotCertProvider: kubernetes\n      certSigners: [example.com/istiod]\n"),
		Entry("more volumes and mounts for istiod",
			"  values:\n    volumes:\n    - name: extra-roots\n      configMap:\n        name: roots\n    - name: scratch\n      emptyDir: {}\n    volumeMounts:\n    - name: extra-roots\n      mountPath: /etc/extra-roots\n"),
		Entry("the demo profile, with the resources it brings",
			"  values:\n    profile: demo\n  proxy:\n    resources: {}\n"),
		Entry("sidecar and istiod resources under the stable profile, which sets none",
			"  proxy:\n    resources:\n      limits:\n        memory: 256Mi\n  controlPlane:\n    resources:\n      requests:\n        memory: 1Gi\n  values:\n    profile: stable\n"),
		Entry("Istio's OpenShift platform profile, with a compatibility version",
			"  values:\n    global:\n      platform: openshift\n    compatibilityVersion: \"1.30\"\n"),
		Entry("a platform, a profile and a compatibility version given as empty",
			"  values:\n    platform: \"\"\n    profile: \"\"\n    compatibilityVersion: \"\"\n    global:\n      platform: \"\"\n      profile: \"\"\n"),
		Entry("the sidecar's settings beside the injection policy that injects every pod",
			"  values:\n    global:\n      proxy:\n        autoInject: enabled\n        logLevel: debug\n        resources:\n          requests:\n            cpu: 50m\n    sidecarInjectorWebhook:\n      neverInjectSelector: []\n      alwaysInjectSelector:\n      - matchLabels:\n          app: web\n"),
		Entry("autoscaling instead of replicas",
			"  controlPlane:\n    autoscaling:\n      minReplicas: 2\n      maxReplicas: 8\n"),
		Entry("a STRICT mesh with a PERMISSIVE legacy namespace",
			"  mtls:\n    mode: STRICT\n    namespaces:\n      legacy: PERMISSIVE\n      payments: STRICT\n"),
		Entry("injection by label selector",
			"  injection:\n    namespaceSelector:\n      matchLabels:\n        mesh: enabled\n"),
		Entry("sidecar scoping with every egress host form",
			"  sidecarScoping:\n    enabled: true\n    outboundTrafficPolicy: REGISTRY_ONLY\n    egressHosts: [\"payments/*\", \"*/api.example.com\", \"./foo.shop.svc.cluster.local\", \"~/*\", \"monitoring/*.monitoring.svc.cluster.local\"]\n"),
		Entry("ingress-nginx as a DaemonSet with dual-stack Service CIDRs",
			"  ingressNginx:\n    enabled: true\n    controller:\n      namespace: ingress\n      name: nginx\n      kind: DaemonSet\n    ingressClassNames: [nginx, nginx-internal]\n    serviceCIDRs: [10.96.0.0/12, \"fd00:10:96::/112\"]\n"),
		Entry("ingress-nginx without Service CIDRs, which meshkeeper reads from the cluster's ServiceCIDRs",
			"  ingressNginx:\n    enabled: true\n"),
		Entry("raw chart values",
			"  values:\n    env:\n      PILOT_ENABLE_STATUS: \"true\"\n    meshConfig:\n      accessLogFile: /dev/stdout\n"),
		Entry("an external CA such as istio-csr, and the keys that name the control plane's own namespace",
			"  namespace: mesh-system\n  values:\n    global:\n      caAddress: cert-manager-istio-csr.cert-manager.svc:443\n      istioNamespace: mesh-system\n      certSigners: [clusterissuers.cert-manager.io/istio-ca]\n      externalIstiod: false\n    meshConfig:\n      rootNamespace: mesh-system\n      trustDomain: example.org\n    trustedZtunnelNamespace: mesh-system\n    env:\n      EXTERNAL_CA: ISTIOD_RA_KUBERNETES_API\n    profile: stable\n    base:\n      validationCABundle: \"\"\n    sidecarInjectorWebhook:\n      enableNamespacesByDefault: false\n      rewriteAppHTTPProbe: true\n"),
		Entry("a private repository with credentials",
			"  version: 1.31.1\n  charts:\n    repository: oci://registry.example.com/istio\n    credentialsSecret: istio-charts\n"),
		Entry("CNI in kube-system with GKE's paths",
			"  cni:\n    enabled: true\n    namespace: kube-system\n    cniBinDir: /home/kubernetes/bin\n    excludeNamespaces: [monitoring]\n    tolerations:\n    - operator: Exists\n"),
		Entry("CNI in the control-plane namespace, standalone as on OpenShift",
			"  namespace: mesh-system\n  cni:\n    namespace: mesh-system\n    cniBinDir: /var/lib/cni/bin\n    cniConfDir: /etc/cni/multus/net.d\n    chained: false\n"),
		Entry("CNI with a priority class of the platform's",
			"  cni:\n    priorityClassName: mesh.example.com-node-agent\n"),
		Entry("CNI off",
			"  cni:\n    enabled: false\n"),
		Entry("placement of istiod",
			"  controlPlane:\n    nodeSelector:\n      node-role.kubernetes.io/infra: \"\"\n    tolerations:\n    - key: infra\n      operator: Exists\n      effect: NoSchedule\n    priorityClassName: system-cluster-critical\n    podDisruptionBudget: false\n"),
		Entry("every form of toleration a pod accepts",
			"  controlPlane:\n    tolerations:\n    - key: infra\n      value: \"true\"\n    - key: example.com/dedicated\n      operator: Equal\n      value: mesh\n      effect: PreferNoSchedule\n    - key: node.kubernetes.io/unreachable\n      operator: Exists\n      effect: NoExecute\n      tolerationSeconds: 300\n    - operator: Exists\n      effect: \"\"\n  cni:\n    tolerations:\n    - operator: Exists\n"),
		Entry("a canary with the RevisionBased strategy",
			"  injection:\n    namespaces: [shop, web]\n  updateStrategy:\n    type: RevisionBased\n    canary:\n      namespaces: [shop]\n"),
		Entry("an empty canary with the InPlace strategy",
			"  updateStrategy:\n    type: InPlace\n    canary:\n      namespaces: []\n"),
		Entry("image hubs of a registry with a port, a nested path and separators",
			"  images:\n    hub: Registry.Example.com:5000/platform_team/istio-images.mirror\n"),
		Entry("an image hub on Docker Hub without its host", "  images:\n    hub: istio\n"),
		Entry("an image hub at a registry's root", "  images:\n    hub: localhost:5000\n"),
	)

	// The API server applies a CRD default only to a field that is absent, so a template that writes ""
	// for a field whose documentation says empty means its default must get the default all the same.
	DescribeTable("accepts an empty string where empty means the default",
		func(spec string) {
			Expect(k8sClient.Create(ctx, parse(meshYAML(spec)))).To(Succeed())
		},
		Entry("version: the built-in charts' version", "  version: \"\"\n"),
		Entry("charts.credentialsSecret: anonymous access to a repository",
			"  charts:\n    repository: oci://registry.example.com/istio\n    credentialsSecret: \"\"\n"),
		Entry("charts.credentialsSecret beside the built-in charts", "  charts:\n    repository: \"\"\n    credentialsSecret: \"\"\n"),
		Entry("cni.namespace: the control plane's", "  cni:\n    enabled: true\n    namespace: \"\"\n"),
		Entry("cni.cniBinDir: /opt/cni/bin", "  cni:\n    enabled: true\n    cniBinDir: \"\"\n"),
		Entry("cni.cniConfDir: /etc/cni/net.d", "  cni:\n    enabled: true\n    cniConfDir: \"\"\n"),
		Entry("controlPlane.priorityClassName: none", "  controlPlane:\n    priorityClassName: \"\"\n"),
		Entry("all of them, as a template that leaves its values empty writes them",
			"  version: \"\"\n  namespace: mesh-system\n  charts:\n    repository: \"\"\n    credentialsSecret: \"\"\n"+
				"  controlPlane:\n    priorityClassName: \"\"\n  cni:\n    enabled: true\n    namespace: \"\"\n    cniBinDir: \"\"\n    cniConfDir: \"\"\n"),
	)

	DescribeTable("keeps the whole of each entry of a values list whose schema declares only what its rules read",
		func(key, entries string, want []any) {
			Expect(k8sClient.Create(ctx, parse(meshYAML("  values:\n    "+key+":\n"+entries)))).To(Succeed())
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(meshv1alpha1.GroupVersion.WithKind("ServiceMesh"))
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "default"}, u)).To(Succeed())
			kept, found, err := unstructured.NestedSlice(u.Object, "spec", "values", key)
			Expect(err).NotTo(HaveOccurred())
			Expect(found).To(BeTrue())
			Expect(kept).To(Equal(want))
		},
		Entry("envVarFrom, of which only the name is declared", "envVarFrom",
			"    - name: EXTERNAL_CA_TOKEN\n      valueFrom:\n        secretKeyRef:\n          name: ca-token\n          key: token\n          optional: true\n",
			[]any{map[string]any{"name": "EXTERNAL_CA_TOKEN", "valueFrom": map[string]any{
				"secretKeyRef": map[string]any{"name": "ca-token", "key": "token", "optional": true}}}}),
		Entry("volumes, of which only hostPath and gitRepo are declared", "volumes",
			"    - name: extra-roots\n      configMap:\n        name: roots\n        defaultMode: 420\n",
			[]any{map[string]any{"name": "extra-roots", "configMap": map[string]any{"name": "roots", "defaultMode": int64(420)}}}),
	)

	It("keeps every key of values.global.proxy, of which only autoInject is declared, nulls included", func() {
		Expect(k8sClient.Create(ctx, parse(meshYAML("  values:\n    global:\n      proxy:\n        autoInject: enabled\n"+
			"        image: registry.example.com/istio/proxyv2:1.31.1\n        resources:\n          limits:\n            memory: 512Mi\n"+
			"        seccompProfile: null\n")))).To(Succeed())
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(meshv1alpha1.GroupVersion.WithKind("ServiceMesh"))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "default"}, u)).To(Succeed())
		kept, found, err := unstructured.NestedMap(u.Object, "spec", "values", "global", "proxy")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		Expect(kept).To(Equal(map[string]any{"autoInject": "enabled", "image": "registry.example.com/istio/proxyv2:1.31.1",
			"resources": map[string]any{"limits": map[string]any{"memory": "512Mi"}},
			// The Pod Security check of enrollment reads a null profile as none (render.SeccompLessSidecar).
			"seccompProfile": nil}))
	})

	It("shows the validation message to a kubectl user", func() {
		kubeconfig, err := env.WriteKubeconfig(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		invalid := meshYAML("  controlPlane:\n    replicas: 2\n    autoscaling:\n      minReplicas: 2\n      maxReplicas: 4\n")
		out, err := testenv.Kubectl(kubeconfig, invalid, "apply", "-f", "-")
		Expect(err).To(HaveOccurred(), "kubectl apply accepted an invalid ServiceMesh: %s", out)
		Expect(out).To(ContainSubstring("set either controlPlane.replicas or controlPlane.autoscaling, not both"))

		out, err = testenv.Kubectl(kubeconfig, "", "apply", "-f",
			filepath.Join(testenv.RepoRoot(), "config", "samples", "mesh_v1alpha1_servicemesh.yaml"))
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("servicemesh.mesh.meshkeeper.io/default created"))

		out, err = testenv.Kubectl(kubeconfig, "", "get", "mesh", "default", "-o", "jsonpath={.spec.mtls.mode}/{.spec.proxy.deltaXDS}")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal("PERMISSIVE/true"))

		// The field documentation reaches `kubectl explain` once the API server has published the schema.
		Eventually(func() string {
			out, _ := testenv.Kubectl(kubeconfig, "", "explain", "servicemesh.spec.mtls.mode")
			return out
		}, 30*time.Second, time.Second).Should(ContainSubstring("STRICT rejects plaintext"))
	})
})

func expectDefaults(mesh *meshv1alpha1.ServiceMesh) {
	GinkgoHelper()
	spec := mesh.Spec
	Expect(spec.Images.Hub).To(Equal("docker.io/istio"))
	Expect(string(spec.Images.PullPolicy)).To(Equal("IfNotPresent"))
	Expect(*spec.ControlPlane.PodDisruptionBudget).To(BeTrue())
	Expect(spec.ControlPlane.PushTuning.DebounceAfter.Duration).To(Equal(100 * time.Millisecond))
	Expect(spec.ControlPlane.PushTuning.DebounceMax.Duration).To(Equal(10 * time.Second))
	Expect(*spec.ControlPlane.PushTuning.PushThrottle).To(BeEquivalentTo(100))
	Expect(*spec.Proxy.DeltaXDS).To(BeTrue())
	Expect(*spec.Proxy.DNSCapture).To(BeTrue())
	Expect(*spec.Proxy.DNSAutoAllocate).To(BeTrue())
	Expect(*spec.Proxy.HoldApplicationUntilProxyStarts).To(BeTrue())
	Expect(spec.MTLS.Mode).To(Equal(meshv1alpha1.MTLSPermissive))
	Expect(*spec.SidecarScoping.Enabled).To(BeFalse())
	Expect(spec.SidecarScoping.OutboundTrafficPolicy).To(Equal(meshv1alpha1.OutboundAllowAny))
	Expect(*spec.IngressNginx.Enabled).To(BeFalse())
	Expect(spec.IngressNginx.Controller).To(Equal(meshv1alpha1.WorkloadReference{
		Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"}))
	Expect(spec.IngressNginx.IngressClassNames).To(Equal([]string{"nginx"}))
	Expect(spec.IngressNginx.ServiceCIDRs).To(BeEmpty(), "no default: unset, they are read from the cluster")
	Expect(spec.CNI.Enabled).To(BeNil(), "cni.enabled has no CRD default: the API server would apply it to stored ServiceMeshes too")
	Expect(*spec.CNI.Chained).To(BeTrue())
	Expect(spec.CNI.PriorityClassName).To(Equal("system-node-critical"))
}

// patchSpec merge-patches the spec of the ServiceMesh, as a user's kubectl patch would.
func patchSpec(spec string) error {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	return k8sClient.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(`{"spec":`+spec+`}`)))
}
