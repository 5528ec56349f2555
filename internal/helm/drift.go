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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// repairDrift applies again every object of a release manifest that was deleted or whose fields differ
// from what the release set. Whether an object differs is asked of the API server with a dry-run
// server-side apply, so defaulting and quantity formats never look like drift. It returns the objects
// it applied; an unchanged cluster costs reads only.
//
// An object that cannot be checked or restored (someone else's made under its name, which checkStillOurs
// refuses, or one whose apply fails) does not hold back the others: the objects come in Helm's install
// order, webhook configurations last, and a refused ServiceAccount would otherwise leave a deleted or
// opened validating webhook unrepaired for as long as it exists. The errors of all of them are returned
// together, with the objects that were restored.
//
// CRDs are kept as stubs (see keepable): a CRD found missing is applied from a fresh render, full.
func (m *ChartManager) repairDrift(ctx context.Context, objects []*unstructured.Unstructured, render func() ([]*unstructured.Unstructured, error)) ([]string, error) {
	var repaired []string
	var errs []error
	var full map[string]*unstructured.Unstructured
	for _, desired := range objects {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		drifted, err := m.drifted(ctx, desired)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !drifted {
			continue
		}
		if isStub(desired) {
			if full == nil {
				full = map[string]*unstructured.Unstructured{}
				rendered, err := render()
				if err != nil {
					// The missing CRDs wait for the next check; the other objects need no render.
					errs = append(errs, err)
				}
				for _, obj := range rendered {
					full[objectKey(obj)] = obj
				}
			}
			if desired = full[objectKey(desired)]; desired == nil {
				continue
			}
		}
		if err := m.checkStillOurs(ctx, desired); err != nil {
			errs = append(errs, err)
			continue
		}
		if desired, err = m.keepingLive(ctx, desired); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := apply.Object(ctx, m.client, desired, client.ForceOwnership); err != nil {
			errs = append(errs, fmt.Errorf("restoring %s %s: %w", desired.GetKind(), objectName(desired), err))
			continue
		}
		repaired = append(repaired, desired.GetKind()+" "+objectName(desired))
	}
	return repaired, errors.Join(errs...)
}

// checkStillOurs refuses to restore an object that exists and is someone else's: one created under the
// same name after meshkeeper's was deleted, which the caches (holding only meshkeeper's labelled
// objects) show as missing. An object is meshkeeper's when it carries its label, or an owner reference
// to the release's owner (its label removed by hand, which the repair puts back).
func (m *ChartManager) checkStillOurs(ctx context.Context, desired *unstructured.Unstructured) error {
	live, err := liveMetadata(ctx, m.reader, desired)
	if err != nil || live == nil || live.Labels[ManagedByLabel] == ManagedByValue {
		return err
	}
	for _, want := range desired.GetOwnerReferences() {
		for _, have := range live.OwnerReferences {
			if have.UID == want.UID {
				return nil
			}
		}
	}
	return fmt.Errorf("%s %s exists without meshkeeper's label %s=%s or owner (made by someone else under the name of "+
		"meshkeeper's?): meshkeeper does not take over another's object; remove it to let meshkeeper restore its own",
		desired.GetKind(), objectName(desired), ManagedByLabel, ManagedByValue)
}

func (m *ChartManager) drifted(ctx context.Context, desired *unstructured.Unstructured) (bool, error) {
	// An object still at the resource version at which it last matched, or changed in its status alone,
	// is unchanged: one cache read.
	current, same, err := m.sameSince(ctx, desired, m.verification(desired))
	if err != nil || same {
		return false, err
	}
	// The Istio CRDs are large and only ever changed by an upgrade; their existence is what matters,
	// read by metadata (from the API server when the cache does not show one).
	if desired.GetKind() == "CustomResourceDefinition" {
		if current == "" {
			live := &metav1.PartialObjectMetadata{}
			live.SetGroupVersionKind(desired.GroupVersionKind())
			if err := m.reader.Get(ctx, client.ObjectKeyFromObject(desired), live); apierrors.IsNotFound(err) {
				return true, nil
			} else if err != nil {
				return false, fmt.Errorf("reading %s %s: %w", desired.GetKind(), objectName(desired), err)
			}
			current = live.ResourceVersion
		}
		m.markVerified(desired, current, "")
		return false, nil
	}

	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(desired.GroupVersionKind())
	err = m.client.Get(ctx, client.ObjectKeyFromObject(desired), live)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s %s: %w", desired.GetKind(), objectName(desired), err)
	}
	if m.renderedByTheLastToApply(ctx, desired, live) {
		return false, nil
	}
	applied := keptLive(desired, live).DeepCopy()
	if err := m.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.DryRunAll,
		client.FieldOwner(meshv1alpha1.FieldManager), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("comparing %s %s: %w", desired.GetKind(), objectName(desired), err)
	}
	if !equality.Semantic.DeepEqual(comparableFields(live), comparableFields(applied)) || Opened(applied.Object, live.Object) {
		return true, nil
	}
	m.markVerifiedAs(desired, live, "")
	return false, nil
}

// renderedByTheLastToApply tells whether live was applied last by another release of desired's namespace
// that renders it too, as far as the chart manager knows what that release renders (its render of the
// deployed revision, kept since its last install, upgrade or drift check). Such an object is that
// release's to keep as it renders it: were each release to repair it to its own copy, the two would
// write it in turn on every drift check. Neither its deletion nor a change by anyone else goes
// unrepaired: the release that applied it last still sees both. An object whose ownership metadata
// names a release that does not render it (written by hand) is repaired as any other drift.
func (m *ChartManager) renderedByTheLastToApply(ctx context.Context, desired, live *unstructured.Unstructured) bool {
	own, theirs := desired.GetAnnotations(), live.GetAnnotations()
	namespace, other := own[releaseNamespaceAnnotation], theirs[releaseNameAnnotation]
	if other == "" || other == own[releaseNameAnnotation] || theirs[releaseNamespaceAnnotation] != namespace {
		return false
	}
	kept, ok := m.remembered(namespace, other)
	key := objectKey(desired)
	if !ok || !slices.ContainsFunc(kept.objects, func(obj *unstructured.Unstructured) bool { return objectKey(obj) == key }) {
		return false
	}
	ctrl.LoggerFrom(ctx).Info("Leaving an object two releases render to the release that applied it last",
		"kind", desired.GetKind(), "namespace", desired.GetNamespace(), "name", desired.GetName(),
		"release", own[releaseNameAnnotation], "appliedBy", other)
	return true
}

// cachedObject returns an object from the client's cache, for the kinds the cache holds (CachedKinds,
// and CRDs by metadata), or nil when the object is not there or its kind is not cached, which sends the
// drift check to the API server.
func (m *ChartManager) cachedObject(ctx context.Context, desired *unstructured.Unstructured) (client.Object, error) {
	gvk := desired.GroupVersionKind()
	var obj client.Object
	switch {
	case gvk.Kind == "CustomResourceDefinition":
		metadata := &metav1.PartialObjectMetadata{}
		metadata.SetGroupVersionKind(gvk)
		obj = metadata
	case m.CachedKinds[gvk]:
		typed, err := m.client.Scheme().New(gvk)
		if err != nil {
			return nil, nil
		}
		obj = typed.(client.Object)
	default:
		return nil, nil
	}
	err := m.client.Get(ctx, client.ObjectKeyFromObject(desired), obj)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", desired.GetKind(), objectName(desired), err)
	}
	return obj, nil
}

// renderedObjects are the objects the desired release renders, as Helm applies them: in the release
// namespace, stamped with meshkeeper's owner reference and with Helm's ownership metadata. They are
// rendered from the resolved chart and values (a server-side dry run, so the cluster's version and APIs
// are the ones the templates see, as in a real upgrade), never read from the release Secret: anyone who
// may write Secrets in the control-plane namespace can forge a newer revision of a release, and
// meshkeeper must not apply what it says. Rendering is the costly part of a drift check, so the objects
// are kept per release and digest; callers must not modify them.
func (m *ChartManager) renderedObjects(ctx context.Context, desired Release, digest string, deployed Head) ([]*unstructured.Unstructured, error) {
	if parsed, ok := m.remembered(desired.Namespace, desired.Name); ok && parsed.key == digest {
		return parsed.objects, nil
	}
	rendered, err := m.renderDeployed(ctx, desired, deployed)
	if err != nil {
		return nil, err
	}
	return m.remember(desired.Namespace, desired.Name, digest, rendered), nil
}

// keepable is what the chart manager keeps of a release's objects between drift checks: the objects
// as rendered, except CRDs, whose content (the base chart's 700 KB) the drift check does not compare:
// of them it keeps a stub with their identity and metadata only, and renders again on the rare
// occasion one has to be restored.
func keepable(objects []*unstructured.Unstructured) []*unstructured.Unstructured {
	kept := make([]*unstructured.Unstructured, len(objects))
	for i, obj := range objects {
		if obj.GetKind() != "CustomResourceDefinition" {
			kept[i] = obj
			continue
		}
		stub := &unstructured.Unstructured{Object: map[string]any{}}
		stub.SetAPIVersion(obj.GetAPIVersion())
		stub.SetKind(obj.GetKind())
		stub.SetName(obj.GetName())
		stub.SetLabels(obj.GetLabels())
		stub.SetAnnotations(obj.GetAnnotations())
		stub.Object[stubField] = true
		kept[i] = stub
	}
	return kept
}

// stubField marks a stub keepable made; it is never applied.
const stubField = "meshkeeper.stub"

func isStub(obj *unstructured.Unstructured) bool {
	_, ok := obj.Object[stubField]
	return ok
}

// renderDeployed renders the desired release as its deployed revision was rendered (an install for the
// first and for the recovery of a failed first install, an upgrade for the others), with the cluster's
// capabilities read before.
func (m *ChartManager) renderDeployed(ctx context.Context, desired Release, deployed Head) ([]*unstructured.Unstructured, error) {
	r, err := m.renderWith(ctx, desired, deployed.Version, deployed.renderedAsUpgrade(), false)
	if err != nil {
		return nil, err
	}
	return r.objects, nil
}

// parsedManifest is a release's rendered objects and the digest of the chart and values they came from.
type parsedManifest struct {
	key     string
	objects []*unstructured.Unstructured
}

// setHelmOwnership adds the metadata Helm puts on every object of a release when it applies it (the
// stored manifest does not have it), so that a drift check neither sees it as drift nor removes it.
func setHelmOwnership(u *unstructured.Unstructured, release, namespace string) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["app.kubernetes.io/managed-by"] = "Helm"
	u.SetLabels(labels)
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[releaseNameAnnotation] = release
	annotations[releaseNamespaceAnnotation] = namespace
	u.SetAnnotations(annotations)
}

// comparableFields strips what changes without anyone editing the object: bookkeeping metadata, status, and
// the webhook fields istiod itself rewrites (caBundle once its CA is up, failurePolicy of the validator
// once it serves).
func comparableFields(u *unstructured.Unstructured) map[string]any {
	obj := u.DeepCopy().Object
	for _, field := range []string{"resourceVersion", "generation", "managedFields", "creationTimestamp", "uid"} {
		unstructured.RemoveNestedField(obj, "metadata", field)
	}
	delete(obj, "status")
	IgnoreIstiodRewrites(obj)
	return obj
}

// IgnoreIstiodRewrites removes from an object, in place, the fields istiod writes into its own webhook
// configurations: the CA bundle once its CA is up, and the validator's failurePolicy once it serves.
// Changes of these are istiod's work, not drift; both the drift check and the watches ignore them. Of
// failurePolicy, istiod only ever sets Fail: the drift check sees a webhook switched to Ignore against
// the release on its own (see Opened).
func IgnoreIstiodRewrites(obj map[string]any) {
	webhooks, _ := obj["webhooks"].([]any)
	for _, w := range webhooks {
		if webhook, ok := w.(map[string]any); ok {
			delete(webhook, "failurePolicy")
			unstructured.RemoveNestedField(webhook, "clientConfig", "caBundle")
		}
	}
}

// failClosed is the failurePolicy istiod switches its validator to once it serves.
const failClosed = "Fail"

// Opened tells whether a webhook configuration now has a webhook failing open (failurePolicy Ignore)
// that closed, by name, fails closed: someone switched it to fail open, for istiod only ever switches its
// webhooks to Fail. The drift check asks it of the live object against the release as it applies it
// over live (see keptLive), where the release sets Fail or keeps istiod's; the watch asks it of an
// update, which IgnoreIstiodRewrites would otherwise hide.
func Opened(closed, now map[string]any) bool {
	wasClosed := webhooksWith(closed, failClosed)
	for name := range webhooksWith(now, failOpen) {
		if wasClosed[name] {
			return true
		}
	}
	return false
}

// failOpen is the failurePolicy Istio's charts render the validator with until istiod serves.
const failOpen = "Ignore"

// webhooksWith are the names of the webhooks of a webhook configuration (its content) whose
// failurePolicy is policy.
func webhooksWith(obj map[string]any, policy string) map[string]bool {
	names := map[string]bool{}
	items, _ := obj["webhooks"].([]any)
	for _, w := range items {
		if webhook, ok := w.(map[string]any); ok && webhook["failurePolicy"] == policy {
			if name, ok := webhook["name"].(string); ok {
				names[name] = true
			}
		}
	}
	return names
}

// keepingLive returns desired as drift repair applies it over the object the cluster holds (see
// keptLive), reading that object only of the kinds keptLive changes.
func (m *ChartManager) keepingLive(ctx context.Context, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if !keepsLive(desired) {
		return desired, nil
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(desired.GroupVersionKind())
	err := m.client.Get(ctx, client.ObjectKeyFromObject(desired), live)
	if apierrors.IsNotFound(err) {
		return desired, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", desired.GetKind(), objectName(desired), err)
	}
	return keptLive(desired, live), nil
}

// keepingReplicas returns desired as an install or upgrade applies it (see keptReplicas). It reads
// the Deployment from the cache, or from the API server when its kind is not cached.
func (m *ChartManager) keepingReplicas(ctx context.Context, desired *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if !unsetReplicas(desired) {
		return desired, nil
	}
	if !m.CachedKinds[desired.GroupVersionKind()] {
		return m.keepingLive(ctx, desired)
	}
	cached, err := m.cachedObject(ctx, desired)
	if err != nil || cached == nil {
		return desired, err
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cached)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", desired.GetKind(), objectName(desired), err)
	}
	return keptReplicas(desired, &unstructured.Unstructured{Object: content}), nil
}

// keepsLive tells whether keptLive may change desired: a webhook configuration, or a Deployment whose
// replicas the chart leaves unset.
func keepsLive(desired *unstructured.Unstructured) bool {
	return webhookConfiguration(desired) || unsetReplicas(desired)
}

// webhookConfiguration tells whether desired is a mutating or validating webhook configuration.
func webhookConfiguration(desired *unstructured.Unstructured) bool {
	switch desired.GroupVersionKind().GroupKind() {
	case schema.GroupKind{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"},
		schema.GroupKind{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:
		return true
	}
	return false
}

// unsetReplicas tells whether desired is a Deployment whose replicas the chart leaves unset.
func unsetReplicas(desired *unstructured.Unstructured) bool {
	if desired.GroupVersionKind().GroupKind() != (schema.GroupKind{Group: "apps", Kind: "Deployment"}) {
		return false
	}
	_, set, _ := unstructured.NestedFieldNoCopy(desired.Object, "spec", "replicas")
	return !set
}

// keptLive returns desired as drift repair applies it over live, and as the drift check compares it:
// with what live holds of fields that are someone else's to change. Those are the replicas keptReplicas
// keeps, and, of a webhook configuration, the fields istiod rewrites (see IgnoreIstiodRewrites), for
// every webhook that sets them. The chart renders the validator failing open (failurePolicy Ignore)
// until istiod serves and sets Fail: a repair applying the chart's value would let invalid Istio
// configuration through until istiod noticed and set it again (see keptFailClosed), and, of a chart
// given a caBundle, put back a CA bundle istiod replaced. A failurePolicy Ignore that live holds is
// not kept: istiod never sets it, and a webhook the release makes fail closed that someone switched
// to fail open is repaired. An install or upgrade applies the chart's CA bundle, as Helm does: it is
// the one the release asks for. Callers must not modify what it returns, desired itself when nothing
// is kept.
func keptLive(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	if live == nil || !keepsLive(desired) {
		return desired
	}
	if unsetReplicas(desired) {
		return keptReplicas(desired, live)
	}
	liveWebhooks := map[string]map[string]any{}
	items, _ := live.Object["webhooks"].([]any)
	for _, w := range items {
		if webhook, ok := w.(map[string]any); ok {
			if name, ok := webhook["name"].(string); ok {
				liveWebhooks[name] = webhook
			}
		}
	}
	kept := desired.DeepCopy()
	items, _ = kept.Object["webhooks"].([]any)
	for _, w := range items {
		webhook, ok := w.(map[string]any)
		if !ok {
			continue
		}
		name, _ := webhook["name"].(string)
		have := liveWebhooks[name]
		if have == nil {
			continue
		}
		if _, set := webhook["failurePolicy"]; set && have["failurePolicy"] == failClosed {
			webhook["failurePolicy"] = failClosed
		}
		if _, set, _ := unstructured.NestedFieldNoCopy(webhook, "clientConfig", "caBundle"); set {
			if bundle, ok, _ := unstructured.NestedString(have, "clientConfig", "caBundle"); ok && bundle != "" {
				_ = unstructured.SetNestedField(webhook, bundle, "clientConfig", "caBundle")
			}
		}
	}
	return kept
}

// keepingFailClosed returns objects as an install applies them (see keptFailClosed): a webhook
// configuration whose webhooks the chart renders failing open is read from the API server, and kept
// failing closed where istiod switched it so. The others, and objects itself when nothing is kept, are
// returned as they are; callers must not modify them.
func (m *ChartManager) keepingFailClosed(ctx context.Context, objects []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var kept []*unstructured.Unstructured
	for i, desired := range objects {
		if !failsOpen(desired) {
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(desired.GroupVersionKind())
		err := m.client.Get(ctx, client.ObjectKeyFromObject(desired), live)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", desired.GetKind(), objectName(desired), err)
		}
		if kept == nil {
			kept = slices.Clone(objects)
		}
		kept[i] = keptFailClosed(desired, live)
	}
	if kept == nil {
		return objects, nil
	}
	return kept, nil
}

// failsOpen tells whether desired is a webhook configuration with a webhook of failurePolicy Ignore.
func failsOpen(desired *unstructured.Unstructured) bool {
	return webhookConfiguration(desired) && len(webhooksWith(desired.Object, failOpen)) > 0
}

// keptFailClosed returns a webhook configuration with failurePolicy Fail for every webhook that the
// chart renders failing open (failurePolicy Ignore) and live has failing closed. Istio's charts render
// the validator so when they render an install, to fail open until istiod serves; istiod, once it has
// seen its webhook reject invalid configuration, switches it to Fail. An install that failed part way
// is run again, or recovered by an upgrade rendered as an install, while istiod already serves: applying
// the chart's Ignore over istiod's Fail would let invalid Istio configuration through until istiod
// noticed and switched it back. Callers must not modify what it returns, desired itself when nothing
// is kept.
func keptFailClosed(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	closed := webhooksWith(live.Object, failClosed)
	var kept *unstructured.Unstructured
	items, _ := desired.Object["webhooks"].([]any)
	for i, w := range items {
		webhook, ok := w.(map[string]any)
		if !ok || webhook["failurePolicy"] != failOpen {
			continue
		}
		if name, _ := webhook["name"].(string); !closed[name] {
			continue
		}
		if kept == nil {
			kept = desired.DeepCopy()
		}
		kept.Object["webhooks"].([]any)[i].(map[string]any)["failurePolicy"] = failClosed
	}
	if kept == nil {
		return desired
	}
	return kept
}

// keptReplicas returns a Deployment whose replicas the chart leaves unset (istiod under its
// autoscaler) with the live replicas while meshkeeper's apply still owns them: when an upgrade turns
// autoscaling on, an apply without them would remove them, and the API server would scale istiod
// down to its default of one pod. meshkeeper applies the replicas the Deployment runs until the
// autoscaler's first scaling takes them over; from then on it applies none. Callers must not modify
// what it returns, desired itself when nothing is kept.
func keptReplicas(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	if live == nil || !unsetReplicas(desired) {
		return desired
	}
	replicas, set, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
	if !set || !apply.OwnedSpecKeys(live).Has("replicas") {
		return desired
	}
	kept := desired.DeepCopy()
	_ = unstructured.SetNestedField(kept.Object, replicas, "spec", "replicas")
	return kept
}

func objectName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// decodeManifest splits a multi-document manifest into objects.
func decodeManifest(manifest []byte) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), jsonSniffLength)
	var objects []*unstructured.Unstructured
	for {
		obj := map[string]any{}
		if err := decoder.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, fmt.Errorf("reading release manifest: %w", err)
		}
		if len(obj) > 0 {
			objects = append(objects, &unstructured.Unstructured{Object: obj})
		}
	}
}
