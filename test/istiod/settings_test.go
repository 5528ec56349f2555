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

package istiod

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestDeploymentSettingsFiltersLocalOnes(t *testing.T) {
	d := &appsv1.Deployment{}
	d.Spec.Template.Spec.Containers = []corev1.Container{
		{Name: "other", Args: []string{"--x"}},
		{
			Name: "discovery",
			Args: []string{"discovery", "--monitoringAddr=:15014", "--log_output_level=default:info",
				"--domain", "cluster.local", "--httpAddr", ":8080", "--secureGRPCAddr", "", "--keepaliveMaxServerConnectionAge", "30m"},
			Env: []corev1.EnvVar{
				{Name: "REVISION", Value: "default"},
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "KUBECONFIG", Value: "/var/run/secrets/remote/config"},
				{Name: "PILOT_DEBOUNCE_AFTER", Value: "100ms"},
			},
		},
	}
	env, args, err := DeploymentSettings(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"REVISION=default", "PILOT_DEBOUNCE_AFTER=100ms"}; !slices.Equal(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}
	if want := []string{"--log_output_level=default:info", "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"}; !slices.Equal(args, want) {
		t.Errorf("args %q, want %q", args, want)
	}
	d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[:1]
	if _, _, err := DeploymentSettings(d); err == nil {
		t.Error("no error for a Deployment without a discovery container")
	}
}

func TestProxyNode(t *testing.T) {
	p := Proxy{IP: "10.1.2.3", Pod: "web-1", Namespace: "shop", Labels: map[string]string{"app": "web"},
		Metadata: map[string]any{"DNS_CAPTURE": "true"}}
	if got, want := p.NodeID(), "sidecar~10.1.2.3~web-1.shop~shop.svc.cluster.local"; got != want {
		t.Errorf("NodeID %q, want %q", got, want)
	}
	node, err := p.Node()
	if err != nil {
		t.Fatal(err)
	}
	m := node.GetMetadata().GetFields()
	for k, want := range map[string]string{"NAMESPACE": "shop", "CLUSTER_ID": "Kubernetes", "ISTIO_VERSION": "1.31.1", "DNS_CAPTURE": "true"} {
		if got := m[k].GetStringValue(); got != want {
			t.Errorf("metadata %s=%q, want %q", k, got, want)
		}
	}
	if got := m["LABELS"].GetStructValue().GetFields()["app"].GetStringValue(); got != "web" {
		t.Errorf("metadata LABELS.app=%q, want web", got)
	}
	if _, err := (Proxy{}).Node(); err == nil {
		t.Error("no error for a proxy without a namespace")
	}
}
