package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFindModuleRoot: the root is the nearest go.mod of the main module, not a nested module's go.mod
// (test/monitoring and test/tools have their own) and not a go.mod that merely mentions the path.
func TestFindModuleRoot(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "// meshkeeper\nmodule github.com/meshkeeper/meshkeeper\n\ngo 1.26\n")
	write("test/monitoring/go.mod", "module github.com/meshkeeper/meshkeeper/test/monitoring\n\nrequire github.com/meshkeeper/meshkeeper v0.0.0\n")
	deep := filepath.Join(root, "test", "monitoring", "rules")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := findModuleRoot(deep); got != root {
		t.Errorf("findModuleRoot(%s) = %s, want %s", deep, got, root)
	}
	if got := findModuleRoot(root); got != root {
		t.Errorf("findModuleRoot(root) = %s, want %s", got, root)
	}
}

// TestRepoRootHasTheMakefile: from a test's working directory (its package), RepoRoot is the checkout.
func TestRepoRootHasTheMakefile(t *testing.T) {
	if _, err := os.Stat(filepath.Join(RepoRoot(), "Makefile")); err != nil {
		t.Fatalf("RepoRoot() = %s has no Makefile: %v", RepoRoot(), err)
	}
}
