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

package testutil

import (
	"runtime"
	"testing"
)

// BenchmarkCached decodes 5,000 objects as an informer does and stores them whole or through the
// cache's transform, reporting the heap each keeps after a collection.
func BenchmarkCached(b *testing.B, unit string, serve func(int) []byte, decode func([]byte) (any, error), transform func(any) (any, error)) {
	const count = 5000
	served := make([][]byte, count)
	for i := range served {
		served[i] = serve(i)
	}
	for _, tc := range []struct {
		name      string
		transform func(any) (any, error)
	}{
		{"stored=whole", func(obj any) (any, error) { return obj, nil }},
		{"stored=cached", transform},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var kept uint64
			for b.Loop() {
				stored := make([]any, count)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for i, data := range served {
					obj, err := decode(data)
					if err != nil {
						b.Fatal(err)
					}
					if stored[i], err = tc.transform(obj); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				kept = (after.HeapAlloc - before.HeapAlloc) / count
				runtime.KeepAlive(stored)
			}
			b.ReportMetric(float64(kept), "bytes/"+unit)
		})
	}
}
