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

// Package logging is the manager's logger: controller-runtime's zap logger, whose added names and
// values are applied only when a line is written.
package logging

import (
	"slices"

	"github.com/go-logr/logr"
)

// Lazy returns logger with WithValues and WithName only remembered, and applied to its sink when a line
// is logged. controller-runtime adds the controller, the object and a reconcile ID to the logger of
// every reconcile, and zap's JSON encoder copies itself, with a buffer of 1 KB, for each: about 100 MB
// of allocations in the 10,000-pod scale benchmark, where nearly every reconcile logs nothing.
func Lazy(logger logr.Logger) logr.Logger {
	base := logger.GetSink()
	if base == nil {
		return logger
	}
	if sink, ok := base.(logr.CallDepthLogSink); ok {
		base = sink.WithCallDepth(1) // the lazy sink's own frame
	}
	return logr.New(&lazySink{base: base})
}

// lazySink is a sink with names and values to add to base when a line is logged.
type lazySink struct {
	base   logr.LogSink
	names  []string
	values []any
}

var _ logr.CallDepthLogSink = &lazySink{}

// Init does nothing: base was initialized when its logger was made.
func (s *lazySink) Init(logr.RuntimeInfo) {}

func (s *lazySink) Enabled(level int) bool { return s.base.Enabled(level) }

func (s *lazySink) Info(level int, msg string, keysAndValues ...any) {
	s.sink().Info(level, msg, keysAndValues...)
}

func (s *lazySink) Error(err error, msg string, keysAndValues ...any) {
	s.sink().Error(err, msg, keysAndValues...)
}

func (s *lazySink) WithValues(keysAndValues ...any) logr.LogSink {
	return &lazySink{base: s.base, names: s.names, values: slices.Concat(s.values, keysAndValues)}
}

func (s *lazySink) WithName(name string) logr.LogSink {
	return &lazySink{base: s.base, names: slices.Concat(s.names, []string{name}), values: s.values}
}

func (s *lazySink) WithCallDepth(depth int) logr.LogSink {
	sink, ok := s.base.(logr.CallDepthLogSink)
	if !ok {
		return s
	}
	return &lazySink{base: sink.WithCallDepth(depth), names: s.names, values: s.values}
}

// sink is base with the names and values added.
func (s *lazySink) sink() logr.LogSink {
	sink := s.base
	for _, name := range s.names {
		sink = sink.WithName(name)
	}
	if len(s.values) > 0 {
		sink = sink.WithValues(s.values...)
	}
	return sink
}
