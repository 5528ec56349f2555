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

// Command release writes the installable artifacts of a meshkeeper version into a directory (dist/):
// install.yaml, the manifests of config/default as `kustomize build` makes them with the release's
// image, and meshkeeper-<version>.tgz, the chart packaged as `helm package --version --app-version`
// does. Both are built in process, with the kustomize and Helm libraries, so no binary is needed.
// `make release-artifacts` runs it and adds the OLM bundle.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var opts Options
	flag.StringVar(&opts.Root, "root", ".", "the repository root")
	flag.StringVar(&opts.Version, "version", "", "the release version (MAJOR.MINOR.PATCH[-PRERELEASE])")
	flag.StringVar(&opts.Image, "image", "", "the manager image, repository:tag or repository@digest")
	flag.StringVar(&opts.Out, "out", "dist", "the directory to write into")
	flag.Parse()

	paths, err := Build(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "release: %v\n", err)
		os.Exit(1)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
}
