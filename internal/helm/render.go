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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// AppliedDigestAnnotation holds, on each CRD meshkeeper applies, a digest of what it applied. An install
// or upgrade skips a CRD whose live copy carries meshkeeper's label and the digest it would apply: the
// base chart's CRDs are 700 KB that change only with the Istio version.
const AppliedDigestAnnotation = "mesh.meshkeeper.io/applied-digest"

// applyWorkers bounds the applies (and reads) of one release that run at once.
const applyWorkers = 8

// rendered is a release as meshkeeper applies it.
type rendered struct {
	// manifest is every object, post-rendered, in Helm's install order, as the release record stores it.
	manifest string
	notes    string
	// objects are the manifest's objects in the same order, in the release namespace and with Helm's
	// ownership metadata, ready to apply.
	objects []*unstructured.Unstructured
}

// capabilities is the cluster as templates see it (.Capabilities).
type capabilities = common.Capabilities

// renderChart renders a chart's templates with Helm's engine and returns its objects, decoded, in Helm's
// install order, and the chart's NOTES.txt. It orders the objects as Helm's SortManifests does, but from
// the objects it decodes anyway rather than from a parse of its own (which cost a quarter of the base
// chart's render).
func renderChart(ctx context.Context, chart *chartv2.Chart, values map[string]any, options common.ReleaseOptions, caps *capabilities) ([]*unstructured.Unstructured, string, error) {
	objects, notes, _, err := renderChartTexts(ctx, chart, values, options, caps)
	return objects, notes, err
}

// renderChartTexts renders as renderChart does, and also returns the text toYaml wrote of each object
// that a template wrote whole with toYaml (see renderMemo), for encodeManifest to reuse.
//
// A chart that is not built into meshkeeper renders in a sandbox process (sandbox.go), and returns no
// texts.
func renderChartTexts(ctx context.Context, chart *chartv2.Chart, values map[string]any, options common.ReleaseOptions, caps *capabilities) ([]*unstructured.Unstructured, string, map[*unstructured.Unstructured]string, error) {
	if err := checkKubeVersion(chart, caps); err != nil {
		return nil, "", nil, err
	}
	if !isTrusted(chart) {
		objects, notes, err := renderSandboxed(ctx, chart, values, options, caps)
		return objects, notes, nil, err
	}
	return renderChartTextsInProcess(ctx, chart, values, options, caps)
}

// checkKubeVersion refuses a chart whose kubeVersion the cluster's does not meet.
func checkKubeVersion(chart *chartv2.Chart, caps *capabilities) error {
	if chart.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(chart.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return fmt.Errorf("chart %s requires kubeVersion %s, which is incompatible with Kubernetes %s",
			chart.Name(), chart.Metadata.KubeVersion, caps.KubeVersion.Version)
	}
	return nil
}

// renderChartTextsInProcess is renderChartTexts in the process it runs in (the manager's, or the
// sandbox's), the chart's kubeVersion checked already.
func renderChartTextsInProcess(ctx context.Context, chart *chartv2.Chart, values map[string]any, options common.ReleaseOptions, caps *capabilities) ([]*unstructured.Unstructured, string, map[*unstructured.Unstructured]string, error) {
	renderValues, err := toRenderValues(chart, values, options, caps)
	if err != nil {
		return nil, "", nil, fmt.Errorf("preparing values of chart %s: %w", chart.Name(), err)
	}
	memo := newRenderMemo()
	e := engine.Engine{CustomTemplateFuncs: memo.funcs()}
	files, err := e.RenderWithContext(ctx, chart, renderValues)
	if err != nil {
		return nil, "", nil, fmt.Errorf("rendering chart %s: %w", chart.Name(), err)
	}
	notes := files[path.Join(chart.Name(), "templates", "NOTES.txt")]
	docs := splitRendered(files)
	decoded := make([][]*unstructured.Unstructured, len(docs))
	written := make([]string, len(docs))
	err = inParallel(runtime.GOMAXPROCS(0), len(docs), func(i int) (err error) {
		if obj, text, ok := memo.object(docs[i].content); ok {
			decoded[i] = []*unstructured.Unstructured{{Object: obj}}
			written[i] = text
			return nil
		}
		if decoded[i], err = decodeManifest([]byte(docs[i].content)); err != nil {
			return fmt.Errorf("YAML parse error on %s: %w", docs[i].path, err)
		}
		return nil
	})
	if err != nil {
		return nil, "", nil, fmt.Errorf("reading the objects of chart %s: %w", chart.Name(), err)
	}
	var objects []*unstructured.Unstructured
	texts := map[*unstructured.Unstructured]string{}
	for i, d := range decoded {
		if written[i] != "" {
			texts[d[0]] = written[i]
		}
		for _, obj := range d {
			if _, hook := obj.GetAnnotations()[hookAnnotation]; hook {
				return nil, "", nil, fmt.Errorf("chart %s has hooks (%s): meshkeeper installs only charts without hooks", chart.Name(), docs[i].path)
			}
			objects = append(objects, obj)
		}
	}
	sortByInstallOrder(objects)
	return objects, notes, texts, nil
}

// toRenderValues is what a chart's templates see (.Values, .Release, .Chart and .Capabilities), with the
// values validated against the chart's values.schema.json and its subcharts' as Helm validates them,
// but for what a schema refers to: Helm's validation loads every schema a $ref or $schema names, over
// http or https from any host (the cloud's metadata service, the cluster's Services) or from the
// manager's own files, with no bound on what it reads. A chart's schemas are the chart's content, which
// no one vetted: they are validated with what they hold alone (and the meta-schemas of JSON Schema's
// drafts, built into the validator), and one that refers to anything else is refused.
func toRenderValues(chart *chartv2.Chart, values map[string]any, options common.ReleaseOptions, caps *capabilities) (common.Values, error) {
	top, err := util.ToRenderValuesWithSchemaValidation(chart, values, options, caps, true)
	if err != nil {
		return nil, err
	}
	coalesced, _ := top["Values"].(common.Values)
	if err := validateSchemas(chart, coalesced); err != nil {
		return nil, fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%w", err)
	}
	return top, nil
}

// validateSchemas validates values against chart's schema and each subchart's values against its own,
// as Helm's util.ValidateAgainstSchema does, with schemaLoader's loads only.
func validateSchemas(chart *chartv2.Chart, values map[string]any) error {
	var sb strings.Builder
	if chart.Schema != nil {
		if err := validateSchema(values, chart.Schema); err != nil {
			fmt.Fprintf(&sb, "%s:\n%s", chart.Name(), err.Error())
		}
	}
	for _, sub := range chart.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		subValues, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(&sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		if err := validateSchemas(sub, subValues); err != nil {
			sb.WriteString(err.Error())
		}
	}
	if sb.Len() > 0 {
		return errors.New(sb.String())
	}
	return nil
}

// validateSchema validates values against one schema, as Helm's util.ValidateAgainstSingleSchema does.
func validateSchema(values map[string]any, schemaJSON []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unable to validate schema: %v", r)
		}
	}()
	schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return err
	}
	compiler := jsonschema.NewCompiler()
	compiler.UseLoader(schemaLoader{})
	if err := compiler.AddResource(schemaURL, schema); err != nil {
		return err
	}
	validator, err := compiler.Compile(schemaURL)
	if err != nil {
		return err
	}
	if err := validator.Validate(values); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "jsonschema validation failed with '"+schemaURL+"#'\n") + "\n")
	}
	return nil
}

// schemaURL is the URL a chart's schema is known by to the validator, as Helm names it.
const schemaURL = "file:///values.schema.json"

// schemaLoader loads the schemas a chart's schema refers to: none, but for a URN, which Helm's loader
// answers with a schema that allows everything (it resolves none either).
type schemaLoader struct{}

func (schemaLoader) Load(url string) (any, error) {
	if strings.HasPrefix(url, "urn:") {
		return true, nil
	}
	return nil, fmt.Errorf("the schema refers to %s, outside the chart's schemas: meshkeeper loads no schema from elsewhere", url)
}

// hookAnnotation marks a Helm hook.
const hookAnnotation = "helm.sh/hook"

// renderedDoc is one YAML document of a rendered template.
type renderedDoc struct {
	path, content string
}

// splitRendered splits rendered templates into their documents, in the order Helm reads them: by file
// name, then as they come in the file; partials, NOTES.txt and empty files left out.
func splitRendered(files map[string]string) []renderedDoc {
	names := make([]string, 0, len(files))
	for name, content := range files {
		if !strings.HasPrefix(path.Base(name), "_") && !strings.HasSuffix(name, "NOTES.txt") && strings.TrimSpace(content) != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var docs []renderedDoc
	for _, name := range names {
		for _, content := range splitManifest(files[name]) {
			docs = append(docs, renderedDoc{path: name, content: content})
		}
	}
	return docs
}

// splitManifest splits a rendered file into its documents as Helm's releaseutil.SplitManifests does,
// in their order: at every line that starts with "---" (the dashes and the blanks after them dropped),
// leading white space trimmed, blank documents left out. Helm's splits with a regular expression,
// which took a tenth of the base chart's render.
func splitManifest(file string) []string {
	file = strings.TrimLeftFunc(file, unicode.IsSpace)
	var docs []string
	add := func(doc string) {
		if strings.TrimSpace(doc) != "" {
			docs = append(docs, strings.TrimLeftFunc(doc, unicode.IsSpace))
		}
	}
	start := 0
	for line := 0; line < len(file); {
		if strings.HasPrefix(file[line:], "---") {
			add(file[start:line])
			start = line + len("---")
			for start < len(file) && (file[start] == ' ' || file[start] == '\t') {
				start++
			}
		}
		next := strings.IndexByte(file[line:], '\n')
		if next < 0 {
			break
		}
		line += next + 1
	}
	add(file[start:])
	return docs
}

// sortByInstallOrder orders objects as Helm installs them: by kind in releaseutil.InstallOrder, kinds
// it does not list last and by name of kind, objects of one kind as they came.
func sortByInstallOrder(objects []*unstructured.Unstructured) {
	rank := make(map[string]int, len(releaseutil.InstallOrder))
	for i, kind := range releaseutil.InstallOrder {
		rank[kind] = i
	}
	sort.SliceStable(objects, func(i, j int) bool {
		kindA, kindB := objects[i].GetKind(), objects[j].GetKind()
		a, aKnown := rank[kindA]
		b, bKnown := rank[kindB]
		switch {
		case !aKnown && !bKnown:
			return kindA < kindB
		case !aKnown:
			return false
		case !bKnown:
			return true
		}
		return a < b
	})
}

// render renders the desired release as revision, post-renders it (meshkeeper's owner reference and
// labels) and decodes its objects.
func (m *ChartManager) render(ctx context.Context, desired Release, revision int, upgrade bool) (*rendered, error) {
	return m.renderWith(ctx, desired, revision, upgrade, true)
}

// renderWith renders as render does; with freshCapabilities false it reuses the cluster's capabilities
// read before.
func (m *ChartManager) renderWith(ctx context.Context, desired Release, revision int, upgrade, freshCapabilities bool) (*rendered, error) {
	caps, err := m.clusterCapabilities(ctx, freshCapabilities)
	if err != nil {
		return nil, err
	}
	objects, notes, texts, err := renderChartTexts(ctx, desired.Chart, desired.Values, common.ReleaseOptions{Name: desired.Name,
		Namespace: desired.Namespace, Revision: revision, IsInstall: !upgrade, IsUpgrade: upgrade}, caps)
	if err != nil {
		return nil, err
	}
	// Every render of a release passes the chart guard, the install's, the upgrade's and drift repair's,
	// so an object it refuses is never applied, nor anything else of the release.
	if err := guardObjects(desired.Chart.Name(), desired.Namespace, objects, m.CheckImage); err != nil {
		return nil, err
	}
	if err := stampObjects(objects, desired.Owner, desired.PodPriority); err != nil {
		return nil, fmt.Errorf("post-rendering release %s/%s: %w", desired.Namespace, desired.Name, err)
	}
	for _, obj := range objects {
		if obj.GetKind() == "CustomResourceDefinition" {
			if err := setAppliedDigest(obj); err != nil {
				return nil, err
			}
		}
	}
	// The record stores the objects without the namespace and ownership metadata Helm adds as it
	// applies, as Helm's records do; recordObjects puts the namespace back when it reads a record.
	manifest, err := encodeManifestReusing(objects, texts)
	if err != nil {
		return nil, err
	}
	for _, obj := range objects {
		// Helm puts namespaced objects without a namespace into the release namespace.
		if obj.GetNamespace() == "" {
			namespaced, err := m.client.IsObjectNamespaced(obj)
			if err != nil {
				return nil, fmt.Errorf("looking up %s: %w", obj.GetKind(), err)
			}
			if namespaced {
				obj.SetNamespace(desired.Namespace)
			}
		}
		setHelmOwnership(obj, desired.Name, desired.Namespace)
	}
	return &rendered{manifest: manifest, notes: notes, objects: objects}, nil
}

// setAppliedDigest sets AppliedDigestAnnotation to the digest of everything else the object holds.
func setAppliedDigest(obj *unstructured.Unstructured) error {
	digest, err := contentDigest(obj)
	if err != nil {
		return err
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AppliedDigestAnnotation] = digest[:40]
	obj.SetAnnotations(annotations)
	return nil
}

// clusterCapabilities reads the cluster's version and API groups from discovery, or, when fresh is
// false and they were read before, returns what was read.
func (m *ChartManager) clusterCapabilities(ctx context.Context, fresh bool) (*capabilities, error) {
	m.mu.Lock()
	known := m.capabilities
	m.mu.Unlock()
	if known != nil && !fresh {
		return known, nil
	}
	if m.discovery == nil {
		return common.DefaultCapabilities, nil
	}
	var info *version.Info
	err := retryRequest(ctx, false, func() (err error) {
		info, err = m.discovery.ServerVersion()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's version: %w", err)
	}
	kubeVersion, err := common.ParseKubeVersion(info.GitVersion)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's version %q: %w", info.GitVersion, err)
	}
	var groups *metav1.APIGroupList
	err = retryRequest(ctx, false, func() (err error) {
		groups, err = m.discovery.ServerGroups()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's API groups: %w", err)
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kubeVersion
	caps.APIVersions = metav1.ExtractGroupVersions(groups)
	m.mu.Lock()
	m.capabilities = caps
	m.mu.Unlock()
	return caps, nil
}

// applyObjects applies objects server-side under meshkeeper's field manager, taking over fields another
// manager set (meshkeeper owns these objects outright). It applies in phases, each by several workers
// at once: the CRDs of firstKinds; the other CRDs and Namespaces; then everything else but admission
// webhooks and policies; then those, so that a webhook never exists before the Service it calls (a
// webhook that fails closed without its Service would refuse the cluster's pods if meshkeeper stopped
// in between). A CRD that already holds what would be applied (its AppliedDigestAnnotation, in the
// metadata cache) is not applied again.
func (m *ChartManager) applyObjects(ctx context.Context, objects []*unstructured.Unstructured, firstKinds []schema.GroupKind) error {
	var phases [4][]*unstructured.Unstructured
	for _, obj := range objects {
		phase := applyPhase(obj, firstKinds)
		phases[phase] = append(phases[phase], obj)
	}
	for _, phase := range phases {
		if err := forEach(phase, func(obj *unstructured.Unstructured) error {
			if obj.GetKind() == "CustomResourceDefinition" {
				if version, current := m.crdCurrent(ctx, obj); current {
					m.markVerified(obj, version, "")
					return nil
				}
			}
			content, err := contentDigest(obj)
			if err != nil {
				return err
			}
			if applied, err := m.appliedAlready(ctx, obj, content); err != nil || applied {
				return err
			}
			// The replicas of istiod's autoscaler stay as they are (see keptReplicas).
			kept, err := m.keepingReplicas(ctx, obj)
			if err != nil {
				return err
			}
			answer, err := apply.Object(ctx, m.client, kept, client.ForceOwnership)
			if err != nil {
				return fmt.Errorf("applying %s %s: %w", obj.GetKind(), objectName(obj), err)
			}
			// What the API server answered is what the release sets: the drift check that follows the
			// install needs no read of its own until the object changes.
			m.markVerifiedAs(obj, answer, content)
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// appliedAlready tells whether meshkeeper applied exactly obj (content is its contentDigest) and the
// object, in the cache, is as that apply left it but for its status (see sameSince): applying it
// again would change nothing. So an install or upgrade that failed part way and runs again applies
// only what it had not, and an upgrade only the objects that changed.
func (m *ChartManager) appliedAlready(ctx context.Context, obj *unstructured.Unstructured, content string) (bool, error) {
	v := m.verification(obj)
	if v == nil || v.content != content {
		return false, nil
	}
	_, same, err := m.sameSince(ctx, obj, v)
	return same, err
}

// applyPhase is the phase of applyObjects an object is applied in.
func applyPhase(obj *unstructured.Unstructured, firstKinds []schema.GroupKind) int {
	switch obj.GetKind() {
	case "CustomResourceDefinition":
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
		if slices.Contains(firstKinds, schema.GroupKind{Group: group, Kind: kind}) {
			return 0
		}
		return 1
	case "Namespace":
		return 1
	case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
		return 3
	}
	return 2
}

// crdCurrent tells whether the live CRD carries meshkeeper's label and the digest of what would be
// applied, and returns its resource version.
func (m *ChartManager) crdCurrent(ctx context.Context, desired *unstructured.Unstructured) (string, bool) {
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(desired.GroupVersionKind())
	if err := m.client.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return "", false
	}
	want := desired.GetAnnotations()[AppliedDigestAnnotation]
	return live.ResourceVersion, want != "" && live.Annotations[AppliedDigestAnnotation] == want &&
		live.Labels[ManagedByLabel] == ManagedByValue && live.DeletionTimestamp == nil
}

// verification is what the chart manager knows of an object of a release: the resource version at
// which it last matched the release and, when meshkeeper applied it at that version, the
// contentDigest of what it applied. For a kind of statusKinds it also holds the object's generation
// and metaDigest at that version, so that a change of its status alone is known for one.
type verification struct {
	version    string
	content    string
	generation int64
	meta       string
}

// statusKinds are the chart kinds whose objects hold nothing but metadata, a spec and a status, and
// whose generation the API server raises on every change of the spec (their status reports the
// generation it observed). Their status changes all the time (istiod's Deployment as its pods come and
// go, the CNI agent's DaemonSet, the autoscaler's metrics), and none of it is the release's: a new
// resource version at the same generation and metadata is no drift.
var statusKinds = map[schema.GroupVersionKind]bool{
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                     true,
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:                      true,
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}: true,
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}:          true,
}

// markVerified records that the object matched the release at resource version, after an apply of
// content when content is not empty.
func (m *ChartManager) markVerified(obj *unstructured.Unstructured, version, content string) {
	m.setVerification(obj, verification{version: version, content: content})
}

// setVerification records v for obj; without a resource version there is nothing to record.
func (m *ChartManager) setVerification(obj *unstructured.Unstructured, v verification) {
	if v.version == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.verified[objectKey(obj)] = v
}

// verification returns what is known of obj, or nil.
func (m *ChartManager) verification(obj *unstructured.Unstructured) *verification {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, known := m.verified[objectKey(obj)]
	if !known {
		return nil
	}
	return &v
}

// markVerifiedAs is markVerified for the object as the API server returned it (read, or applied). Of a
// kind of statusKinds whose metadata has no digest, no generation is recorded: its next change is read.
func (m *ChartManager) markVerifiedAs(obj *unstructured.Unstructured, live metav1.Object, content string) {
	v := verification{version: live.GetResourceVersion(), content: content}
	if v.version != "" && statusKinds[obj.GroupVersionKind()] {
		if meta, err := metaDigest(live); err == nil {
			v.generation, v.meta = live.GetGeneration(), meta
		}
	}
	m.setVerification(obj, v)
}

// sameSince tells whether the object, in the cache, is as it was when v was recorded: at v's resource
// version or, for a kind of statusKinds, at a later one with the same generation and metadata (its
// status alone changed; v then moves to that version). It also returns the cached resource version,
// "" when the cache does not hold the object. v may be nil.
func (m *ChartManager) sameSince(ctx context.Context, desired *unstructured.Unstructured, v *verification) (string, bool, error) {
	cached, err := m.cachedObject(ctx, desired)
	if err != nil || cached == nil {
		return "", false, err
	}
	current := cached.GetResourceVersion()
	switch {
	case v == nil:
		return current, false, nil
	case current == v.version:
		return current, true, nil
	case v.generation > 0 && statusKinds[desired.GroupVersionKind()] && cached.GetGeneration() == v.generation &&
		sameMeta(cached, v.meta):
		m.mu.Lock()
		if known, ok := m.verified[objectKey(desired)]; ok && known == *v {
			known.version = current
			m.verified[objectKey(desired)] = known
		}
		m.mu.Unlock()
		return current, true, nil
	}
	return current, false, nil
}

// metaDigest is a digest of the metadata a drift check compares that a change of an object's
// generation does not show: its labels, annotations (but templateGenerationAnnotation), owners,
// finalizers and deletion.
func metaDigest(obj metav1.Object) (string, error) {
	annotations := obj.GetAnnotations()
	if _, ok := annotations[templateGenerationAnnotation]; ok {
		annotations = maps.Clone(annotations)
		delete(annotations, templateGenerationAnnotation)
	}
	return jsonDigest([]any{obj.GetLabels(), annotations, obj.GetOwnerReferences(),
		obj.GetFinalizers(), obj.GetDeletionTimestamp()})
}

// templateGenerationAnnotation is how apps/v1 shows a DaemonSet's template generation, a field of the
// API server's own that it raises with the generation. A DaemonSet read or watched carries it; the
// metadata the API server answers an apply with does not (it is no metadata of the stored object), so
// with it the first status change after every apply would count as a change of metadata.
const templateGenerationAnnotation = "deprecated.daemonset.template.generation"

// sameMeta tells whether obj's metaDigest is digest; one that cannot be made is not.
func sameMeta(obj metav1.Object, digest string) bool {
	d, err := metaDigest(obj)
	return err == nil && d == digest
}

// unverify forgets what is known of an object, before it is deleted.
func (m *ChartManager) unverify(obj *unstructured.Unstructured) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.verified, objectKey(obj))
}

// contentDigest is a digest of an object as it would be applied.
func contentDigest(obj *unstructured.Unstructured) (string, error) {
	digest, err := jsonDigest(obj.Object)
	if err != nil {
		return "", fmt.Errorf("encoding %s %s: %w", obj.GetKind(), objectName(obj), err)
	}
	return digest, nil
}

// jsonDigest is the hex SHA-256 of v's JSON.
func jsonDigest(v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// checkNotForeign fails when an object of a release to install exists and was not rendered by
// meshkeeper (it lacks meshkeeper's label): another installation's objects are never taken over.
func (m *ChartManager) checkNotForeign(ctx context.Context, objects []*unstructured.Unstructured) error {
	return forEach(objects, func(obj *unstructured.Unstructured) error { return m.notForeign(ctx, obj) })
}

// notForeign fails when obj exists and lacks meshkeeper's label, as checkNotForeign does for each object.
func (m *ChartManager) notForeign(ctx context.Context, obj *unstructured.Unstructured) error {
	reader := m.reader
	if obj.GetKind() == "CustomResourceDefinition" {
		reader = m.client // cached by metadata
	}
	live, err := liveMetadata(ctx, reader, obj)
	switch {
	case err != nil || live == nil:
		return err
	case live.Labels[ManagedByLabel] != ManagedByValue:
		return fmt.Errorf("%s %s exists and was not installed by meshkeeper (label %s=%s missing): "+
			"meshkeeper does not take over another installation's objects; remove it, or the other installation",
			obj.GetKind(), objectName(obj), ManagedByLabel, ManagedByValue)
	}
	return nil
}

// checkTakesNothingOver fails when an object an upgrade would apply exists and is not meshkeeper's, before
// the upgrade writes anything. An object the revision replaced (previous) has is checked as drift
// repair checks it (checkStillOurs): meshkeeper's may have been deleted and another made under its name,
// which a force-apply would take over, and an uninstall then delete. An object the upgrade adds is
// checked as an install checks it (notForeign). An object the cache shows with meshkeeper's label is
// meshkeeper's without a read of the API server: an upgrade of a release whose objects are all where
// meshkeeper left them reads none of them.
func (m *ChartManager) checkTakesNothingOver(ctx context.Context, objects, previous []*unstructured.Unstructured) error {
	had := make(map[string]bool, len(previous))
	for _, obj := range previous {
		had[objectKey(obj)] = true
	}
	return forEach(objects, func(obj *unstructured.Unstructured) error {
		if ours, err := m.cachedAsOurs(ctx, obj); err != nil || ours {
			return err
		}
		if had[objectKey(obj)] {
			return m.checkStillOurs(ctx, obj)
		}
		return m.notForeign(ctx, obj)
	})
}

// cachedAsOurs tells whether the client's cache holds obj with meshkeeper's label. Whether an object it
// does not show so (of a kind not cached, missing, or someone else's) is meshkeeper's is for the caller
// to read from the API server.
func (m *ChartManager) cachedAsOurs(ctx context.Context, obj *unstructured.Unstructured) (bool, error) {
	cached, err := m.cachedObject(ctx, obj)
	if err != nil || cached == nil {
		return false, err
	}
	return cached.GetLabels()[ManagedByLabel] == ManagedByValue, nil
}

// liveMetadata reads the metadata of obj as the cluster has it, through reader; nil when it does not
// exist or its kind is not served.
func liveMetadata(ctx context.Context, reader client.Reader, obj *unstructured.Unstructured) (*metav1.PartialObjectMetadata, error) {
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(obj.GroupVersionKind())
	err := reader.Get(ctx, client.ObjectKeyFromObject(obj), live)
	switch {
	case apierrors.IsNotFound(err) || isNoMatch(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s %s: %w", obj.GetKind(), objectName(obj), err)
	}
	return live, nil
}

// forEach runs f on every object with up to applyWorkers at once, and returns every error.
func forEach(objects []*unstructured.Unstructured, f func(*unstructured.Unstructured) error) error {
	return inParallel(applyWorkers, len(objects), func(i int) error { return f(objects[i]) })
}

// inParallel runs f(0) … f(n-1) with up to workers at once, and returns every error.
func inParallel(workers, n int, f func(int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	work := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range work {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }

// encodeManifest writes objects as one multi-document YAML manifest, encoding them on every CPU.
func encodeManifest(objects []*unstructured.Unstructured) (string, error) {
	return encodeManifestReusing(objects, nil)
}

// encodeManifestReusing encodes as encodeManifest does. Of a CRD that a template wrote whole with
// toYaml (texts holds that text), it writes only the metadata, which post-rendering changed, and takes
// every other top-level field's text from what toYaml wrote: the base chart's CRDs are written once, not
// twice (see spliceMetadata).
func encodeManifestReusing(objects []*unstructured.Unstructured, texts map[*unstructured.Unstructured]string) (string, error) {
	docs := make([][]byte, len(objects))
	err := inParallel(runtime.GOMAXPROCS(0), len(objects), func(i int) (err error) {
		if text, ok := texts[objects[i]]; ok && objects[i].GetKind() == "CustomResourceDefinition" {
			if doc, ok, err := spliceMetadata(text, objects[i].Object); err != nil || ok {
				docs[i] = doc
				return err
			}
		}
		if docs[i], err = marshalYAML(objects[i].Object); err != nil {
			return fmt.Errorf("writing %s %s: %w", objects[i].GetKind(), objects[i].GetName(), err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	size := 0
	for _, doc := range docs {
		size += len("---\n") + len(doc)
	}
	var out strings.Builder
	out.Grow(size)
	for _, doc := range docs {
		out.WriteString("---\n")
		out.Write(doc)
	}
	return out.String(), nil
}
