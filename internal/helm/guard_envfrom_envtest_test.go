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

package helm

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// envFromChart renders istiod's Deployment taking its variables in bulk from ConfigMap remote, after
// configMaps, the ConfigMaps of the release.
func envFromChart(namespace, configMaps string) string {
	return configMaps + yamlObject("v1", "ServiceAccount", namespace, "istiod", "") +
		yamlObject("apps/v1", "Deployment", namespace, "istiod", `spec:
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec:
      serviceAccountName: istiod
      containers:
      - name: discovery
        image: docker.io/istio/pilot:1.31.1
        envFrom:
        - configMapRef: {name: remote}
`)
}

// TestAChartCannotHideATrustVariableBehindANullValue: the API server stores a ConfigMap whose data holds
// a key without a value (YAML's null, which a template writes for a value left empty) with that key
// empty and its other keys as they are. The chart guard reads every key of a ConfigMap the release
// renders, whatever its value, so a ConfigMap that sets EXTERNAL_ISTIOD beside such a key, taken in bulk
// into istiod's environment, is refused as it is without it, and neither the ConfigMap nor the
// Deployment is created.
func TestAChartCannotHideATrustVariableBehindANullValue(t *testing.T) {
	m, c, ns := onAPIServer(t)
	configMap := yamlObject("v1", "ConfigMap", ns, "remote", "data:\n  EXTERNAL_ISTIOD: \"true\"\n  padding:\n")
	_, err := m.Ensure(t.Context(), attackRelease(ns, attackChart("remote", envFromChart(ns, configMap))))
	if got := (&corev1.ConfigMap{}); c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "remote"}, got) == nil {
		t.Errorf("the ConfigMap was created with data %v", got.Data)
	}
	if got := (&appsv1.Deployment{}); c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "istiod"}, got) == nil {
		t.Errorf("the Deployment was created, taking its variables from ConfigMap remote")
	}
	expectRefused(t, err, "Deployment "+ns+"/istiod, which sets EXTERNAL_ISTIOD through envFrom (ConfigMap remote) in container discovery")
}

// TestAChartCannotRenderAConfigMapTwice: a chart that renders two ConfigMaps of one name, one of them
// setting EXTERNAL_ISTIOD, would have both applied at once, and whichever the API server took last
// would stay; drift repair would then apply the other on every pass. The chart guard refuses a release
// that renders an object twice, and nothing of it is created.
func TestAChartCannotRenderAConfigMapTwice(t *testing.T) {
	m, c, ns := onAPIServer(t)
	configMaps := yamlObject("v1", "ConfigMap", ns, "remote", "data:\n  EXTERNAL_ISTIOD: \"true\"\n") +
		yamlObject("v1", "ConfigMap", ns, "remote", "data:\n  LOG_LEVEL: debug\n")
	_, err := m.Ensure(t.Context(), attackRelease(ns, attackChart("remote", envFromChart(ns, configMaps))))
	if got := (&corev1.ConfigMap{}); c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "remote"}, got) == nil {
		t.Errorf("the ConfigMap was created with data %v", got.Data)
	}
	if got := (&appsv1.Deployment{}); c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "istiod"}, got) == nil {
		t.Errorf("the Deployment was created, taking its variables from ConfigMap remote")
	}
	expectRefused(t, err, "ConfigMap "+ns+"/remote, which is rendered more than once")
}
