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
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Release records are stored as the helm CLI stores them (its "secret" storage driver), so `helm list`,
// `helm history` and `helm get` read them: one Secret of type helm.sh/release.v1 per revision, named
// sh.helm.release.v1.<release>.v<revision>, labelled with the release's name, owner "helm", status and
// revision, holding the release as gzip-compressed JSON, base64-encoded.
const (
	recordType = corev1.SecretType("helm.sh/release.v1")
	// maxRecordBytes bounds a release record meshkeeper decodes: a Secret holds at most 1 MiB, and a
	// record that inflates beyond this is not one meshkeeper wrote.
	maxRecordBytes = 32 << 20
	// maxRecordNodes bounds the JSON values of a record meshkeeper decodes, as counted by jsonNodes: each
	// costs memory once decoded (a map entry, an interface), several times its bytes when it is small, so
	// 32 MiB of tiny values would cost hundreds. A record of Istio's charts, the chart and its values
	// included, has fewer than 500.
	maxRecordNodes = 64 << 10
)

var gzipMagic = []byte{0x1f, 0x8b, 0x08}

func recordName(release string, version int) string {
	return fmt.Sprintf("sh.helm.release.v1.%s.v%d", release, version)
}

// encodeRecord encodes a release as Helm does, its chart and manifest compressed at recordLevel: Helm
// reads any level. body is the release's chart and manifest as recordBody compressed them; nil
// compresses them here.
func encodeRecord(rel *releasev1.Release, body *recordBody) ([]byte, error) {
	if body == nil {
		var err error
		if body, err = newRecordBody(rel, nil); err != nil {
			return nil, err
		}
	}
	// The rest of the release: its name, info (the status), values, version and namespace.
	rest := *rel
	rest.Chart, rest.Manifest = nil, ""
	raw, err := json.Marshal(&rest)
	if err != nil {
		return nil, err
	}
	if body.fields && len(raw) > 2 {
		raw[0] = ','
	} else {
		raw = raw[1:]
	}
	var buf bytes.Buffer
	buf.Grow(len(body.compressed) + len(raw))
	buf.Write(body.compressed)
	// The rest of a record is a few hundred bytes: gzip's fastest level.
	if err := compressAt(&buf, gzip.BestSpeed, raw); err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(buf.Len()))
	base64.StdEncoding.Encode(out, buf.Bytes())
	return out, nil
}

// recordBody is what a release record holds that its status does not change: the start of the
// release's JSON, with the chart and the manifest (nearly all of the record), as gzip members of their
// own: the chart's, then the manifest's. A record is then those members followed by a member with the
// rest of the JSON, which gzip readers, Helm's among them, read as one stream. An install or upgrade
// stores its record twice, pending and then deployed or failed, and compresses the chart and manifest
// once for both; each is encoded as JSON on its own, so no more than the larger is held at once.
type recordBody struct {
	compressed []byte
	// fields tells that the members hold a field, so the rest follows after a comma.
	fields bool
}

// recordLevel is the gzip level of a record's chart and manifest. A record is written twice per install
// or upgrade, and the API server and etcd take about 0.1 ms per KB of it; for the base chart (1.2 MB of
// chart JSON, its files in base64, and 0.9 MB of manifest) level 4 writes 274 KB where the fastest
// level wrote 345 KB, for 4 ms more CPU, once; the best level, Helm's, saves another 100 KB for 170 ms.
const recordLevel = 4

// newRecordBody compresses rel's chart and manifest; charts, when not nil, keeps the chart's member.
func newRecordBody(rel *releasev1.Release, charts *chartMembers) (*recordBody, error) {
	body := &recordBody{}
	if rel.Chart != nil {
		member, err := charts.member(rel.Chart)
		if err != nil {
			return nil, err
		}
		body.compressed, body.fields = member, true
	}
	var parts [][]byte
	switch {
	case rel.Manifest != "":
		manifest, err := json.Marshal(rel.Manifest)
		if err != nil {
			return nil, err
		}
		sep := "{"
		if body.fields {
			sep = ","
		}
		parts = [][]byte{[]byte(sep + `"manifest":`), manifest}
		body.fields = true
	case !body.fields:
		parts = [][]byte{[]byte("{")}
	default:
		return body, nil // the chart's member alone: encodeRecord copies it
	}
	buf := bytes.NewBuffer(append(make([]byte, 0, len(body.compressed)+len(rel.Manifest)/3), body.compressed...))
	if err := compressAt(buf, recordLevel, parts...); err != nil {
		return nil, err
	}
	body.compressed = buf.Bytes()
	return body, nil
}

// chartMembers keeps, for the few charts a mesh's releases are made from (the base, istiod's, the CNI
// agent's, and a canary revision's), the chart's part of a record as a gzip member: `{"chart":` and the
// chart's JSON. A chart is the same object for as long as the chart resolver keeps it, and its JSON
// (the base chart's is 1.2 MB, its files in base64) is the same each time; compressed, the three
// built-in charts keep 265 KB, and an install or upgrade of the base chart no longer spends 40 ms
// encoding it. A nil *chartMembers keeps nothing.
type chartMembers struct {
	mu sync.Mutex
	// entries, the most recently used last.
	entries []chartMember
}

type chartMember struct {
	chart      *chartv2.Chart
	compressed []byte
}

// maxChartMembers bounds what chartMembers keeps: the charts of a mesh in a canary upgrade are five.
const maxChartMembers = 6

// member returns chart's member. Its bytes are shared: a caller appends to a copy.
func (c *chartMembers) member(chart *chartv2.Chart) ([]byte, error) {
	if c != nil {
		c.mu.Lock()
		kept, ok := c.use(chart)
		c.mu.Unlock()
		if ok {
			return kept, nil
		}
	}
	raw, err := json.Marshal(chart)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(raw) / 4)
	if err := compressAt(&buf, recordLevel, []byte(`{"chart":`), raw); err != nil {
		return nil, err
	}
	compressed := bytes.Clone(buf.Bytes())
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if kept, ok := c.use(chart); ok {
			return kept, nil // another release of the chart kept it meanwhile
		}
		if len(c.entries) == maxChartMembers {
			c.entries = slices.Delete(c.entries, 0, 1)
		}
		c.entries = append(c.entries, chartMember{chart: chart, compressed: compressed})
	}
	return compressed[:len(compressed):len(compressed)], nil
}

// use returns chart's kept member and makes it the most recently used. c.mu is held.
func (c *chartMembers) use(chart *chartv2.Chart) ([]byte, bool) {
	for i, e := range c.entries {
		if e.chart == chart {
			c.entries = append(slices.Delete(c.entries, i, i+1), e)
			return e.compressed[:len(e.compressed):len(e.compressed)], true
		}
	}
	return nil, false
}

// gzipWriters keeps gzip writers between uses, by level (gzip.HuffmanOnly, -2, at index 0): a writer's
// state is about 1 MB, and the parse cache compresses a document at a time.
var gzipWriters [gzip.BestCompression - gzip.HuffmanOnly + 1]sync.Pool

// compressAt appends parts to buf as one gzip member, at level.
func compressAt(buf *bytes.Buffer, level int, parts ...[]byte) error {
	if level < gzip.HuffmanOnly || level > gzip.BestCompression {
		return fmt.Errorf("gzip: invalid compression level: %d", level)
	}
	pool := &gzipWriters[level-gzip.HuffmanOnly]
	w, _ := pool.Get().(*gzip.Writer)
	if w == nil {
		var err error
		if w, err = gzip.NewWriterLevel(buf, level); err != nil {
			return err
		}
	} else {
		w.Reset(buf)
	}
	defer pool.Put(w)
	for _, part := range parts {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return w.Close()
}

// decodeRecord decodes a release record (compressed or, as the oldest Helm 3 wrote them, not).
func decodeRecord(data []byte) (*releasev1.Release, error) {
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
	n, err := base64.StdEncoding.Decode(raw, data)
	if err != nil {
		return nil, err
	}
	raw = raw[:n]
	if bytes.HasPrefix(raw, gzipMagic) {
		r, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if raw, err = io.ReadAll(io.LimitReader(r, maxRecordBytes+1)); err != nil {
			return nil, err
		}
		if len(raw) > maxRecordBytes {
			return nil, fmt.Errorf("the release record inflates beyond %d bytes", maxRecordBytes)
		}
	}
	if n := jsonNodes(raw); n > maxRecordNodes {
		return nil, fmt.Errorf("the release record holds more than %d JSON values (%d)", maxRecordNodes, n)
	}
	rel := &releasev1.Release{}
	if err := json.Unmarshal(raw, rel); err != nil {
		return nil, err
	}
	if rel.Info == nil {
		return nil, fmt.Errorf("the release record has no info")
	}
	return rel, nil
}

// jsonNodes counts the values of a JSON document without decoding it: the document's root, and each
// '{', '[' and ',' outside its strings, each of which begins at most a key and a value. Text inside
// strings (a manifest, a chart's files) counts nothing.
func jsonNodes(data []byte) int {
	n, inString, escaped := 1, false, false
	for _, b := range data {
		switch {
		case escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case b == '"':
			inString = !inString
		case !inString && (b == '{' || b == '[' || b == ','):
			n++
		}
	}
	return n
}

// recordSecret is the Secret that stores rel, with the labels Helm's driver gives it and rel's own. body
// is rel's, or nil (see encodeRecord).
func recordSecret(rel *releasev1.Release, timeLabel string, body *recordBody) (*corev1.Secret, error) {
	data, err := encodeRecord(rel, body)
	if err != nil {
		return nil, fmt.Errorf("encoding revision %d of release %s: %w", rel.Version, rel.Name, err)
	}
	labels := map[string]string{}
	for k, v := range rel.Labels {
		labels[k] = v
	}
	labels["name"] = rel.Name
	labels["owner"] = "helm"
	labels["status"] = rel.Info.Status.String()
	labels["version"] = strconv.Itoa(rel.Version)
	labels[timeLabel] = strconv.FormatInt(time.Now().Unix(), 10)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: recordName(rel.Name, rel.Version), Namespace: rel.Namespace, Labels: labels},
		Type:       recordType,
		Data:       map[string][]byte{"release": data},
	}, nil
}

// createRecord stores a new revision and returns its Secret's metadata, for updateRecord. It fails when
// the revision exists: another writer got there first. body is rel's, or nil (see encodeRecord).
func (m *ChartManager) createRecord(ctx context.Context, rel *releasev1.Release, body *recordBody) (*metav1.ObjectMeta, error) {
	defer m.writes.add(rel.Namespace)
	secret, err := recordSecret(rel, "createdAt", body)
	if err != nil {
		return nil, err
	}
	if err := m.client.Create(ctx, secret, client.FieldOwner(meshv1alpha1.FieldManager)); err != nil {
		return nil, fmt.Errorf("storing revision %d of release %s: %w", rel.Version, rel.Name, err)
	}
	return &secret.ObjectMeta, nil
}

// updateRecord stores a revision's new status in its Secret as stored describes it (the metadata
// meshkeeper created or read it with). The update carries stored's resource version: another manager
// that recovered or superseded the revision meanwhile (two replicas for a moment during a leader
// handover) changed the record, and the write fails with a conflict instead of overwriting that status,
// which could leave two revisions deployed. It changes the labels Helm's driver sets and the data, and
// keeps the rest of the metadata (the labels and annotations others gave the Secret). body is rel's, or
// nil (see encodeRecord).
func (m *ChartManager) updateRecord(ctx context.Context, rel *releasev1.Release, body *recordBody, stored *metav1.ObjectMeta) error {
	defer m.writes.add(stored.Namespace)
	secret, err := recordSecret(rel, "modifiedAt", body)
	if err != nil {
		return err
	}
	labels := secret.Labels
	secret.ObjectMeta = *stored.DeepCopy()
	secret.ManagedFields = nil // the API server keeps them
	if secret.Labels == nil {
		secret.Labels = map[string]string{}
	}
	for k, v := range labels {
		secret.Labels[k] = v
	}
	if err := m.client.Update(ctx, secret, client.FieldOwner(meshv1alpha1.FieldManager)); err != nil {
		return fmt.Errorf("storing the status of revision %d of release %s: %w", rel.Version, rel.Name, err)
	}
	return nil
}

// readRecord reads and decodes one revision from the API server (release Secrets are not cached).
func (m *ChartManager) readRecord(ctx context.Context, namespace, name string, version int) (*releasev1.Release, error) {
	rel, _, err := m.readRecordAt(ctx, namespace, name, version)
	return rel, err
}

// readRecordAt reads and decodes one revision, as readRecord does, and returns its Secret's metadata
// too, for updateRecord.
func (m *ChartManager) readRecordAt(ctx context.Context, namespace, name string, version int) (*releasev1.Release, *metav1.ObjectMeta, error) {
	secret := &corev1.Secret{}
	if err := m.reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: recordName(name, version)}, secret); err != nil {
		return nil, nil, fmt.Errorf("reading revision %d of release %s: %w", version, name, err)
	}
	rel, err := decodeRecord(secret.Data["release"])
	if err != nil {
		return nil, nil, fmt.Errorf("decoding revision %d of release %s: %w: %w", version, name, errUnreadable, err)
	}
	if rel.Name != name || rel.Version != version {
		return nil, nil, fmt.Errorf("the record of revision %d of release %s holds revision %d of release %q: %w", version, name, rel.Version, rel.Name, errUnreadable)
	}
	rel.Namespace = namespace
	rel.Labels = map[string]string{}
	for _, key := range []string{DigestLabel, InstalledAsLabel} {
		if value, ok := secret.Labels[key]; ok {
			rel.Labels[key] = value
		}
	}
	return rel, &secret.ObjectMeta, nil
}

// errUnreadable marks a release record that exists and cannot be read as the revision it is named for:
// corrupted, or written by someone else who may write Secrets in the namespace.
var errUnreadable = errors.New("unreadable release record")

// newestReadable reads the newest record of heads[:upTo+1] that can be read, skipping (and logging)
// unreadable ones, so that a corrupted or forged record cannot block an upgrade or an uninstall; nil
// when none can be read. Other errors (the API server's) are returned.
func (m *ChartManager) newestReadable(ctx context.Context, namespace, name string, heads []Head, upTo int) (*releasev1.Release, error) {
	rel, _, err := m.newestReadableAt(ctx, namespace, name, heads, upTo)
	return rel, err
}

// newestReadableAt is newestReadable, with the metadata of the record's Secret.
func (m *ChartManager) newestReadableAt(ctx context.Context, namespace, name string, heads []Head, upTo int) (*releasev1.Release, *metav1.ObjectMeta, error) {
	for i := upTo; i >= 0; i-- {
		rel, stored, err := m.readRecordAt(ctx, namespace, name, heads[i].Version)
		if errors.Is(err, errUnreadable) {
			ctrl.LoggerFrom(ctx).Info("Skipping a release record that cannot be read", "namespace", namespace, "error", err.Error())
			continue
		}
		return rel, stored, err
	}
	return nil, nil, nil
}

// deleteRecord deletes one revision's record; one that is gone already is not an error.
func (m *ChartManager) deleteRecord(ctx context.Context, namespace, name string, version int) error {
	defer m.writes.add(namespace)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: recordName(name, version)}}
	if err := m.client.Delete(ctx, secret); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting revision %d of release %s: %w", version, name, err)
	}
	return nil
}

// RecordWrites counts the writes of release records in namespace this chart manager attempted, each
// counted once it returned, whether it succeeded or not (one that timed out may have been stored). A
// caller that read the records after the count was n has seen every record this process wrote while
// the count stays n: it reads them again only once the count moved.
func (m *ChartManager) RecordWrites(namespace string) uint64 { return m.writes.of(namespace) }

// recordWrites counts writes of release records by namespace.
type recordWrites struct {
	mu     sync.Mutex
	counts map[string]uint64
}

func (w *recordWrites) add(namespace string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.counts == nil {
		w.counts = map[string]uint64{}
	}
	w.counts[namespace]++
}

func (w *recordWrites) of(namespace string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[namespace]
}
