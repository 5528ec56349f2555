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
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=list
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=list

const (
	// templatePage is how many workloads of a kind templatesNaming reads at once: only a page of them is
	// held at a time, however many the cluster has.
	templatePage = 500
	// namedWorkloads is how many of the workloads that keep a revision its RevisionPruneBlocked Event names;
	// it counts the others.
	namedWorkloads = 3
)

// podTemplateKind is a workload kind whose pod template can name a revision, with the path of that
// template's labels.
type podTemplateKind struct {
	gvk    schema.GroupVersionKind
	labels []string
}

// podTemplateKinds are the workloads that make pods from a template while none of their pods may run: a
// Deployment, StatefulSet or ReplicaSet scaled to 0, a DaemonSet on no node, a Job not started yet, a
// CronJob between runs. They are read as unstructured objects: a label is all that is read, and the
// manager links no batch/v1 types for two kinds it only lists.
var podTemplateKinds = []podTemplateKind{
	{gvk: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, labels: podTemplateLabels},
	{gvk: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, labels: podTemplateLabels},
	{gvk: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, labels: podTemplateLabels},
	{gvk: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, labels: podTemplateLabels},
	{gvk: schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"},
		labels: []string{"spec", "jobTemplate", "spec", "template", "metadata", "labels"}},
	{gvk: schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, labels: podTemplateLabels},
}

var podTemplateLabels = []string{"spec", "template", "metadata", "labels"}

// revision is the revision a workload of the kind gives its next pods through its pod template's
// istio.io/rev label; istio.io/rev=default names the default tag, as for a namespace, so while a tag
// exists (tagged) it is the tag's revision. "" when the workload makes no pod from that template any
// more: a Job that finished, and a ReplicaSet a Deployment controls (the Deployment's template is the one
// its next pods come from; its older ReplicaSets are kept only as a history).
func (k podTemplateKind) revision(obj *unstructured.Unstructured, tagged string) string {
	switch k.gvk.Kind {
	case "ReplicaSet":
		if owner := metav1.GetControllerOf(obj); owner != nil && owner.Kind == "Deployment" && strings.HasPrefix(owner.APIVersion, "apps/") {
			return ""
		}
	case "Job":
		if jobFinished(obj) {
			return ""
		}
	}
	template, _, _ := unstructured.NestedStringMap(obj.Object, k.labels...)
	rev := template[policy.LabelIstioRevision]
	if rev == defaultTag && tagged != "" {
		rev = tagged
	}
	return rev
}

// jobFinished tells whether a Job has its Complete or Failed condition: it makes no pod any more.
func jobFinished(job *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(job.Object, "status", "conditions")
	for _, c := range conditions {
		condition, _ := c.(map[string]any)
		if (condition["type"] == "Complete" || condition["type"] == "Failed") && condition["status"] == "True" {
			return true
		}
	}
	return false
}

// templateUsers are, for each revision, the workloads whose pod template names it.
type templateUsers map[string]*workloadNames

// workloadNames are the first namedWorkloads workloads (kind namespace/name) of a list, and how many it
// has.
type workloadNames struct {
	names []string
	count int
}

func (u templateUsers) note(rev, workload string) {
	w := u[rev]
	if w == nil {
		w = &workloadNames{}
		u[rev] = w
	}
	if len(w.names) < namedWorkloads {
		w.names = append(w.names, workload)
	}
	w.count++
}

// String says how many workloads there are, and names the first ones.
func (w *workloadNames) String() string {
	noun := "workloads"
	if w.count == 1 {
		noun = "workload"
	}
	names := strings.Join(w.names, ", ")
	if more := w.count - len(w.names); more > 0 {
		names += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("%d %s (%s)", w.count, noun, names)
}

// templatesNaming finds, for each of the revisions, the workloads whose pod template names it
// (podTemplateKind.revision). Their pods, once the revision is gone, would match no injector and start
// without a sidecar. The ServiceMesh's own workloads are not counted: a revision's istiod names its
// revision, and goes with it. Every workload of podTemplateKinds is read around the caches (the
// manager's holds meshkeeper's own, the restarts' no template's istio.io/rev label), a page at a time,
// and only when a revision is due for removal.
func (r *Reconciler) templatesNaming(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, revisions []string, tagged string) (templateUsers, error) {
	users := templateUsers{}
	for _, kind := range podTemplateKinds {
		for page := ""; ; {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(kind.gvk.GroupVersion().WithKind(kind.gvk.Kind + "List"))
			if err := r.APIReader.List(ctx, list, client.Limit(templatePage), client.Continue(page)); err != nil {
				return nil, meshctx.Retry(meshv1alpha1.ReasonInstallFailed, fmt.Errorf("listing %ss: %w", kind.gvk.Kind, err))
			}
			for i := range list.Items {
				obj := &list.Items[i]
				if meshctx.OwnedBy(obj, mesh) {
					continue
				}
				if rev := kind.revision(obj, tagged); rev != "" && slices.Contains(revisions, rev) {
					users.note(rev, kind.gvk.Kind+" "+obj.GetNamespace()+"/"+obj.GetName())
				}
			}
			if page = list.GetContinue(); page == "" {
				break
			}
		}
	}
	return users, nil
}

// templateScan is the last look at the workloads' pod templates (templatesNaming), for the revisions
// then due for removal.
type templateScan struct {
	at        time.Time
	revisions []string
	tagged    string
	users     templateUsers
}

// recentTemplatesNaming is templatesNaming, read again only when the last look is older than maxAge or
// was for another default tag or not for all of the revisions. While a revision is held, every
// reconcile of the ServiceMesh comes here, and each look lists every workload of the cluster around the
// caches: a held revision is looked at again every maxAge (the recheck of holdRevisionsInUse), not on
// every event. A look for more revisions (the upgrade gate's, at every unused revision) serves the
// pruning's for those of them due for removal.
func (r *Reconciler) recentTemplatesNaming(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, revisions []string, tagged string, maxAge time.Duration) (templateUsers, error) {
	sorted := slices.Sorted(slices.Values(revisions))
	r.revisionState.mu.Lock()
	last := r.revisionState.templates
	r.revisionState.mu.Unlock()
	if last != nil && last.tagged == tagged && time.Since(last.at) < maxAge &&
		!slices.ContainsFunc(sorted, func(rev string) bool { return !slices.Contains(last.revisions, rev) }) {
		return last.users, nil
	}
	at := time.Now()
	users, err := r.templatesNaming(ctx, mesh, revisions, tagged)
	if err != nil {
		return nil, err
	}
	r.revisionState.mu.Lock()
	r.revisionState.templates = &templateScan{at: at, revisions: sorted, tagged: tagged, users: users}
	r.revisionState.mu.Unlock()
	return users, nil
}
