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

// Command trimdeps builds meshkeeper's manager as the image ships it: without the 41 Kubernetes API
// group versions it never uses (of the 58 a plain build links, it links 17).
//
// Importing a package of k8s.io/api registers its types from the package's initialisation, which keeps
// every type of the group and all their methods in the binary. client-go's clientset imports nearly
// all of them, and client-go's kubernetes/scheme, which controller-runtime's client imports, registers
// 55. The manager calls no clientset, but four files of its dependencies import one for functions the
// manager never calls: a blank import in Helm (to keep client-go in Helm's own build information), leader
// election's LeaseCandidate (coordinated leader election, which controller-runtime does not use),
// resourcelock.NewFromKubeconfig and events.NewEventBroadcasterAdapter. Together they cost 10 MB of
// the 48 MB binary and about as much resident memory.
//
// trimdeps copies the manager's packages to a temporary module, vendors its dependencies there, makes
// the edits listed in edits to the vendored copies, and builds with -mod=vendor. Each edit names what it
// removes; if a dependency update moves or renames it, the edit fails and so does the build, rather than
// ship an untrimmed or different binary. The working tree is never touched.
//
//	go run ./hack/trimdeps -o bin/meshkeeper [-ldflags '-X …']   build (no cgo, -trimpath, -s -w)
//	go run ./hack/trimdeps -list                                  print the packages the build links
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// schemeGroups are the API groups client-go's kubernetes/scheme keeps: those whose types the manager
// reads or writes through controller-runtime's typed client or cache, and those of the typed clients
// controller-runtime itself uses (Leases for leader election, Events).
var schemeGroups = []string{
	"k8s.io/api/admissionregistration/v1",
	"k8s.io/api/apps/v1",
	"k8s.io/api/authentication/v1",
	"k8s.io/api/authorization/v1",
	"k8s.io/api/autoscaling/v2",
	"k8s.io/api/coordination/v1",
	"k8s.io/api/core/v1",
	"k8s.io/api/events/v1",
	"k8s.io/api/networking/v1",
	"k8s.io/api/policy/v1",
	"k8s.io/api/rbac/v1",
}

// edits are the changes made to the vendored dependencies, each with the file it changes (a path under
// vendor/) and what it removes. An edit whose target is missing is an error.
var edits = []struct {
	file   string
	remove bool // the whole file
	edit   func(name string, src []byte) ([]byte, error)
}{
	{ // The blank import only keeps client-go in Helm's build information; the manager links client-go anyway.
		file: "helm.sh/helm/v4/internal/version/clientgo.go",
		edit: func(name string, src []byte) ([]byte, error) {
			return dropImport(name, src, "k8s.io/client-go/kubernetes")
		},
	},
	{ // Coordinated leader election's LeaseCandidate; controller-runtime elects with a Lease lock alone.
		file:   "k8s.io/client-go/tools/leaderelection/leasecandidate.go",
		remove: true,
	},
	{ // controller-runtime builds its Lease lock with resourcelock.New and typed clients.
		file: "k8s.io/client-go/tools/leaderelection/resourcelock/interface.go",
		edit: func(name string, src []byte) ([]byte, error) {
			return dropFuncs(name, src, "NewFromKubeconfig")
		},
	},
	{ // controller-runtime records events through events.NewBroadcaster and a typed events/v1 client.
		file: "k8s.io/client-go/tools/events/event_broadcaster.go",
		edit: func(name string, src []byte) ([]byte, error) {
			return dropFuncs(name, src, "NewEventBroadcasterAdapter", "NewEventBroadcasterAdapterWithContext")
		},
	},
	{ // The scheme of client-go's typed clients and controller-runtime's default scheme.
		file: "k8s.io/client-go/kubernetes/scheme/register.go",
		edit: func(name string, src []byte) ([]byte, error) {
			return keepSchemeGroups(name, src, "localSchemeBuilder", schemeGroups)
		},
	},
}

func main() {
	out := flag.String("o", "", "build the manager to this path")
	ldflags := flag.String("ldflags", "", "linker flags added to -s -w")
	list := flag.Bool("list", false, "print the packages the trimmed build links instead of building")
	src := flag.String("src", ".", "meshkeeper's module root")
	flag.Parse()
	if (*out == "") == !*list {
		fmt.Fprintln(os.Stderr, "trimdeps: give -o or -list")
		os.Exit(2)
	}
	if err := run(*src, *out, *ldflags, *list); err != nil {
		fmt.Fprintln(os.Stderr, "trimdeps:", err)
		os.Exit(1)
	}
}

func run(src, out, ldflags string, list bool) error {
	src, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	if out != "" {
		if out, err = filepath.Abs(out); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp("", "meshkeeper-trimdeps-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()
	if err := copyManager(src, work); err != nil {
		return err
	}
	if _, err := goCmd(work, "mod", "vendor"); err != nil {
		return err
	}
	for _, e := range edits {
		file := filepath.Join(work, "vendor", filepath.FromSlash(e.file))
		if e.remove {
			if err := os.Remove(file); err != nil {
				return fmt.Errorf("vendor/%s: %w", e.file, err)
			}
			continue
		}
		before, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("vendor/%s: %w", e.file, err)
		}
		after, err := e.edit(e.file, before)
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, after, 0o644); err != nil {
			return err
		}
	}
	if list {
		deps, err := goCmd(work, "list", "-mod=vendor", "-deps", ".")
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(deps)
		return err
	}
	_, err = goCmd(work, "build", "-mod=vendor", "-trimpath", "-ldflags=-s -w "+ldflags, "-o", out, ".")
	return err
}

// copyManager copies what building the manager needs into dst: go.mod, go.sum, and the non-test Go
// files and embedded files of each of the module's packages the manager imports.
func copyManager(src, dst string) error {
	listing, err := goCmd(src, "list", "-deps",
		"-f", `{{if and .Module .Module.Main}}{{.Dir}}{{range .GoFiles}}|{{.}}{{end}}{{range .EmbedFiles}}|{{.}}{{end}}{{end}}`, ".")
	if err != nil {
		return err
	}
	files := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(listing)), "\n") {
		fields := strings.Split(line, "|")
		rel, err := filepath.Rel(src, fields[0])
		if err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("package directory %s is outside %s", fields[0], src)
		}
		for _, f := range fields[1:] {
			files = append(files, filepath.Join(rel, f))
		}
	}
	for _, f := range files {
		if err := copyFile(filepath.Join(src, f), filepath.Join(dst, f)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	outFile, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(outFile, in); err != nil {
		_ = outFile.Close()
		return err
	}
	return outFile.Close()
}

// goCmd runs the go command in dir, without cgo, a workspace or GOFLAGS of the caller's, and returns its
// standard output.
func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}
