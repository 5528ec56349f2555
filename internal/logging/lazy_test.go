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

package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	uberzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// lines decodes the JSON lines a logger wrote, without their timestamps, and of a stack trace its first
// frame.
func lines(t *testing.T, out *bytes.Buffer) []map[string]any {
	t.Helper()
	var got []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		delete(m, "ts")
		if stack, ok := m["stacktrace"].(string); ok {
			// The frames up to the test's own call of the logger; the callers of that differ.
			first, _, _ := strings.Cut(stack, "\n")
			m["stacktrace"] = first
		}
		got = append(got, m)
	}
	return got
}

// TestLazyWritesWhatZapWrites: every line, with names and values added in any order, at any level and
// with the caller, is the line the logger itself writes.
func TestLazyWritesWhatZapWrites(t *testing.T) {
	write := func(logger logr.Logger) {
		reconcile := logger.WithName("controller").WithValues("controller", "servicemesh").
			WithName("servicemesh").WithValues("name", "default", "reconcileID", "1234")
		reconcile.Info("Reconciling", "generation", 3)
		reconcile.V(1).Info("debug line")
		reconcile.V(5).Info("not written")
		reconcile.Error(errors.New("boom"), "Reconciler error", "attempt", 2)
		logr.FromContextOrDiscard(logr.NewContext(t.Context(), reconcile.WithValues("k", "v"))).Info("from a context")
		logger.Info("bare")
	}
	var plain, lazy bytes.Buffer
	options := func(out *bytes.Buffer) zap.Opts {
		return func(o *zap.Options) {
			o.DestWriter = out
			o.Development = false
			o.Level = zapcore.Level(-1) // V(1)
		}
	}
	write(zap.New(options(&plain), zap.RawZapOpts(uberzap.AddCaller())))
	write(Lazy(zap.New(options(&lazy), zap.RawZapOpts(uberzap.AddCaller()))))
	want, got := lines(t, &plain), lines(t, &lazy)
	if len(want) != 5 {
		t.Fatalf("the logger wrote %d lines, want 5:\n%s", len(want), plain.String())
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Fatalf("the lazy logger wrote\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	for _, line := range got {
		if caller, _ := line["caller"].(string); !strings.HasPrefix(caller, "logging/lazy_test.go:") {
			t.Fatalf("caller %q, want this test", caller)
		}
	}
}

// TestLazyAddsValuesWithFewerAllocations: adding a reconcile's names and values costs fewer
// allocations than zap's copy of its encoder.
func TestLazyAddsValuesWithFewerAllocations(t *testing.T) {
	var out bytes.Buffer
	base := zap.New(zap.WriteTo(&out))
	lazy := Lazy(zap.New(zap.WriteTo(&out)))
	add := func(logger logr.Logger) func() {
		return func() {
			_ = logger.WithValues("controller", "namespace", "namespace", "default").WithValues("reconcileID", "1234")
		}
	}
	plain, deferred := testing.AllocsPerRun(100, add(base)), testing.AllocsPerRun(100, add(lazy))
	if deferred >= plain {
		t.Fatalf("the lazy logger allocated %.0f times per reconcile's values, zap's %.0f", deferred, plain)
	}
}
