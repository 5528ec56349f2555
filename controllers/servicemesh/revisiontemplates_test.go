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

package servicemesh

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// templateKind is the podTemplateKinds entry of a kind.
func templateKind(t *testing.T, kind string) podTemplateKind {
	t.Helper()
	for _, k := range podTemplateKinds {
		if k.gvk.Kind == kind {
			return k
		}
	}
	t.Fatalf("podTemplateKinds has no %s", kind)
	return podTemplateKind{}
}

// A workload that makes pods from its template names the revision of its istio.io/rev label, wherever
// its kind keeps the template; one that makes no pod from it any more names none.
func TestPodTemplateRevision(t *testing.T) {
	template := func(rev string) map[string]any {
		return map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "batch", "istio.io/rev": rev}}}
	}
	withSpec := func(kind string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"kind": kind,
			"metadata": map[string]any{"namespace": "jobs", "name": "nightly"}, "spec": spec}}
	}
	finished := func(condition string) *unstructured.Unstructured {
		job := withSpec("Job", map[string]any{"template": template("1-31-0")})
		job.Object["status"] = map[string]any{"conditions": []any{
			map[string]any{"type": "SuccessCriteriaMet", "status": "True"},
			map[string]any{"type": condition, "status": "True"}}}
		return job
	}
	controlledBy := func(apiVersion, kind string) *unstructured.Unstructured {
		rs := withSpec("ReplicaSet", map[string]any{"replicas": int64(0), "template": template("1-31-0")})
		rs.Object["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{
			"apiVersion": apiVersion, "kind": kind, "name": "web", "uid": "u1", "controller": true}}
		return rs
	}
	for name, tc := range map[string]struct {
		obj    *unstructured.Unstructured
		tagged string
		want   string
	}{
		"a Deployment scaled to 0":        {obj: withSpec("Deployment", map[string]any{"replicas": int64(0), "template": template("1-31-0")}), want: "1-31-0"},
		"a StatefulSet":                   {obj: withSpec("StatefulSet", map[string]any{"template": template("1-31-0")}), want: "1-31-0"},
		"a DaemonSet":                     {obj: withSpec("DaemonSet", map[string]any{"template": template("1-31-0")}), want: "1-31-0"},
		"a CronJob, in its job template":  {obj: withSpec("CronJob", map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": template("1-31-0")}}}), want: "1-31-0"},
		"a CronJob's own spec.template":   {obj: withSpec("CronJob", map[string]any{"template": template("1-31-0")})},
		"a Job not finished":              {obj: withSpec("Job", map[string]any{"suspend": true, "template": template("1-31-0")}), want: "1-31-0"},
		"a Job that completed":            {obj: finished("Complete")},
		"a Job that failed":               {obj: finished("Failed")},
		"a ReplicaSet of no one":          {obj: withSpec("ReplicaSet", map[string]any{"template": template("1-31-0")}), want: "1-31-0"},
		"a ReplicaSet of a Deployment":    {obj: controlledBy("apps/v1", "Deployment")},
		"a ReplicaSet of another kind":    {obj: controlledBy("argoproj.io/v1alpha1", "Rollout"), want: "1-31-0"},
		"a template without the label":    {obj: withSpec("Deployment", map[string]any{"template": map[string]any{"metadata": map[string]any{}}})},
		"the default tag, while a tag is": {obj: withSpec("Deployment", map[string]any{"template": template("default")}), tagged: "1-31-1", want: "1-31-1"},
		"default, while no tag is":        {obj: withSpec("Deployment", map[string]any{"template": template("default")}), want: "default"},
		"another tag's name":              {obj: withSpec("Deployment", map[string]any{"template": template("prod")}), tagged: "1-31-1", want: "prod"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := templateKind(t, tc.obj.GetKind()).revision(tc.obj, tc.tagged); got != tc.want {
				t.Errorf("revision = %q, want %q", got, tc.want)
			}
		})
	}
}

// The Event of a blocked revision says what keeps it and what to do, naming a few workloads and
// counting the rest.
func TestPruneBlockedMessage(t *testing.T) {
	many := templateUsers{}
	for _, w := range []string{"CronJob jobs/nightly", "Deployment web/api", "Job jobs/once", "Job jobs/twice", "DaemonSet ops/agent"} {
		many.note("1-31-0", w)
	}
	one := templateUsers{}
	one.note("1-31-0", "Deployment web/api")
	for name, tc := range map[string]struct {
		webhooks  []string
		templates *workloadNames
		want      []string
	}{
		"nothing": {},
		"webhooks": {webhooks: []string{"MutatingWebhookConfiguration istio-revision-tag-prod"}, want: []string{
			"webhook configuration MutatingWebhookConfiguration istio-revision-tag-prod (not meshkeeper's) sends requests to its istiod",
			"until you delete it or point it at another revision"}},
		"one workload": {templates: one["1-31-0"], want: []string{
			"the pod template of 1 workload (Deployment web/api) has istio.io/rev=1-31-0",
			"until you move their istio.io/rev label to a current revision or remove it"}},
		"many workloads": {templates: many["1-31-0"], want: []string{
			"the pod templates of 5 workloads (CronJob jobs/nightly, Deployment web/api, Job jobs/once and 2 more) have istio.io/rev=1-31-0"}},
		"both": {webhooks: []string{"MutatingWebhookConfiguration istio-revision-tag-prod"}, templates: one["1-31-0"], want: []string{
			"sends requests to its istiod, and the pod template of 1 workload",
			"point it at another revision, and you move their istio.io/rev label"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := pruneBlocked("1-31-0", tc.webhooks, tc.templates)
			if len(tc.want) == 0 {
				if got != "" {
					t.Errorf("message = %q, want none", got)
				}
				return
			}
			if !strings.HasPrefix(got, "Revision 1-31-0 is unused and its grace period is over, but ") {
				t.Errorf("message = %q, does not start by naming the revision", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("message = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}
