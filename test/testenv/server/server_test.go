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

package server

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestServerGOGC(t *testing.T) {
	t.Setenv(GOGCEnv, "")
	t.Setenv("GOGC", "150")
	serverGOGC()()
	if got := os.Getenv("GOGC"); got != "150" {
		t.Errorf("GOGC = %q after a start without %s, want 150", got, GOGCEnv)
	}

	t.Setenv(GOGCEnv, "400")
	restore := serverGOGC()
	if got := os.Getenv("GOGC"); got != "400" {
		t.Errorf("GOGC = %q while the servers start, want 400", got)
	}
	restore()
	if got := os.Getenv("GOGC"); got != "150" {
		t.Errorf("GOGC = %q after the servers started, want the test's 150 back", got)
	}

	if err := os.Unsetenv("GOGC"); err != nil {
		t.Fatal(err)
	}
	serverGOGC()()
	if _, set := os.LookupEnv("GOGC"); set {
		t.Error("GOGC is set after the servers started, where the test had none")
	}
}

// fatals records the failures Get reports, ending the goroutine it runs in as t.Fatal ends a test.
type fatals struct {
	testing.TB
	failures []string
}

func (f *fatals) Helper() {}

func (f *fatals) Fatal(args ...any) {
	f.failures = append(f.failures, fmt.Sprint(args...))
	runtime.Goexit()
}

// TestSharedReportsAFailedStartToEveryTest: a server that did not start is started once, and its error
// fails every test that asks for it, not only the first.
func TestSharedReportsAFailedStartToEveryTest(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", t.TempDir())
	shared := NewShared()
	f := &fatals{TB: t}
	for range 2 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			shared.Get(f)
			t.Error("Get returned a server from an empty directory of cluster binaries")
		}()
		<-done
	}
	if len(f.failures) != 2 {
		t.Fatalf("Get failed %d tests, want both: %q", len(f.failures), f.failures)
	}
	for _, failure := range f.failures {
		if !strings.Contains(failure, "cluster binary kube-apiserver not found") {
			t.Errorf("Get failed a test with %q, want the start's error", failure)
		}
	}
}
