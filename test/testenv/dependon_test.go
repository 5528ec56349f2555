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

package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDependOnKeysTheTestCacheOnAFile: the fault, chaos and e2e tiers run the manager binary as a
// process, and their test binaries need not change with the manager's code, so go test would report
// their last result, "(cached)", for a rebuilt manager. DependOn, called from a test, makes the file
// (inside the module, as the manager binary and the CRD are) part of the cache key. The test runs go test twice on a package of its own (in the module, so that it
// builds offline from the module cache) that calls DependOn for a file, and once more after the file
// changed: that run must not come from the cache.
func TestDependOnKeysTheTestCacheOnAFile(t *testing.T) {
	// A directory under testdata: the go tool's ./... patterns pass over it, an explicit path builds it.
	testdata := filepath.Join(RepoRoot(), "test", "testenv", "testdata")
	if err := os.MkdirAll(testdata, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(testdata, "dependon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.RemoveAll(dir)
		_ = os.Remove(testdata) // when nothing else is there
	})
	const source = `package dependon

import (
	"os"
	"testing"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

func TestUsesTheFile(t *testing.T) { testenv.DependOn(os.Getenv("DEPENDON_FILE")) }
`
	if err := os.WriteFile(filepath.Join(dir, "dependon_test.go"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	// Inside the module, as bin/meshkeeper-image and the CRD are: go test rechecks no file outside it.
	file := filepath.Join(dir, "manager")
	if err := os.WriteFile(file, []byte("one build"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Old enough that go test caches a result that read it.
	setTime := func(ago time.Duration) {
		at := time.Now().Add(-ago)
		if err := os.Chtimes(file, at, at); err != nil {
			t.Fatal(err)
		}
	}
	setTime(2 * time.Hour)
	run := func() string {
		t.Helper()
		cmd := exec.Command("go", "test", "./"+filepath.Base(dir))
		cmd.Dir = filepath.Dir(dir)
		cmd.Env = append(os.Environ(), "DEPENDON_FILE="+file)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go test: %v\n%s", err, out)
		}
		return string(out)
	}
	run()
	if out := run(); !strings.Contains(out, "(cached)") {
		t.Fatalf("the second run of an unchanged package was not cached, so this test proves nothing:\n%s", out)
	}
	if err := os.WriteFile(file, []byte("another build"), 0o755); err != nil {
		t.Fatal(err)
	}
	setTime(time.Hour)
	if out := run(); strings.Contains(out, "(cached)") {
		t.Errorf("the run after the file changed came from the cache:\n%s", out)
	}
}
