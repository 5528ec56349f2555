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
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"io"
	"sync"
)

// parseCacheMinSize is the least size of a document whose parse the parse cache keeps: the base
// chart's CRDs (each 10–200 KB of YAML), not the small blocks templates parse by the dozen.
const parseCacheMinSize = 8 << 10

// parseCacheBudget bounds what the parse cache holds, compressed: Istio's CRDs (14 of its 15 are that
// large) take about 70 KB, so those of several Istio versions (a canary upgrade has two) fit.
const parseCacheBudget = 1 << 20

// parseCache keeps, across renders, what parsing a large YAML document with fromYaml gave, as
// compressed JSON, by the document's SHA-256. The base chart's template parses each of its 15 CRDs
// (934 KB of YAML) on every render, and parsing YAML was half of that render; decoding the same
// values from JSON takes a fifth of the time, and decoding its JSON gives exactly what the parse gave
// (encodeCompressedJSON). The entries used least recently go first once the budget is full.
type parseCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*list.Element
	order   list.List // of *parseEntry, the most recently used first
	size    int
	budget  int
}

type parseEntry struct {
	key        [sha256.Size]byte
	compressed []byte
}

// parsed is the process's parse cache.
var parsed = &parseCache{budget: parseCacheBudget}

// parseYAML is parseYAMLMap, but for tests that count the parses.
var parseYAML = parseYAMLMap

// parse is parseYAML's answer for doc, from the cache when it holds doc.
func (c *parseCache) parse(doc string) (map[string]any, bool) {
	if len(doc) < parseCacheMinSize {
		return parseYAML(doc)
	}
	key := sha256.Sum256([]byte(doc))
	if m, ok := c.get(key); ok {
		return m, true
	}
	m, ok := parseYAML(doc)
	if ok {
		c.put(key, m)
	}
	return m, ok
}

func (c *parseCache) get(key [sha256.Size]byte) (map[string]any, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	var compressed []byte
	if ok {
		c.order.MoveToFront(e)
		compressed = e.Value.(*parseEntry).compressed
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	m, err := decodeCompressedJSON(compressed)
	return m, err == nil
}

// put keeps m for key, unless it does not fit the budget.
func (c *parseCache) put(key [sha256.Size]byte, m map[string]any) {
	compressed, err := encodeCompressedJSON(m)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok || len(compressed) > c.budget {
		return
	}
	if c.entries == nil {
		c.entries = map[[sha256.Size]byte]*list.Element{}
	}
	c.entries[key] = c.order.PushFront(&parseEntry{key: key, compressed: compressed})
	c.size += len(compressed)
	for c.size > c.budget {
		oldest := c.order.Back()
		entry := c.order.Remove(oldest).(*parseEntry)
		delete(c.entries, entry.key)
		c.size -= len(entry.compressed)
	}
}

// encodeCompressedJSON is m as JSON, compressed. Decoding it gives m again for every map parseYAMLMap
// gives (FuzzFromYAML): its strings are UTF-8, its numbers finite float64s (which JSON writes in the
// shortest form that reads back the same), its lists and maps never nil.
func encodeCompressedJSON(m map[string]any) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := compressAt(&buf, gzip.BestSpeed, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gzipReaders keeps the parse cache's gzip readers between the documents of a render.
var gzipReaders sync.Pool

func decodeCompressedJSON(compressed []byte) (map[string]any, error) {
	r, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if r == nil {
		r, err = gzip.NewReader(bytes.NewReader(compressed))
	} else {
		err = r.Reset(bytes.NewReader(compressed))
	}
	if err != nil {
		return nil, err
	}
	defer gzipReaders.Put(r)
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}
