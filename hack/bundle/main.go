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

// Command bundle writes meshkeeper's OLM bundle: bundle/manifests, bundle/metadata and
// bundle.Dockerfile, generated from the repository's sources (see package generator). `make bundle`
// runs it from the repository root.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
)

func main() {
	var (
		opts     generator.Options
		root     string
		channels string
	)
	flag.StringVar(&root, "root", ".", "the repository root")
	flag.StringVar(&opts.Version, "version", "", "the operator version (MAJOR.MINOR.PATCH)")
	flag.StringVar(&opts.Image, "image", "", "the manager image, with a tag other than latest or a digest")
	flag.StringVar(&channels, "channels", "alpha", "the catalog channels, comma-separated")
	flag.StringVar(&opts.DefaultChannel, "default-channel", "alpha", "the default channel, one of -channels")
	flag.StringVar(&opts.CreatedAt, "created-at", "", "the createdAt annotation (RFC 3339), fixed so the output is reproducible")
	flag.Parse()
	opts.Channels = strings.Split(channels, ",")

	files, err := generator.Generate(root, opts)
	if err == nil {
		err = generator.Write(root, files)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bundle: %v\n", err)
		os.Exit(1)
	}
	for _, path := range files.Paths() {
		fmt.Println(path)
	}
}
