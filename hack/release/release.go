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

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Options say which release to build.
type Options struct {
	Root    string
	Version string
	// Image is the manager image; empty means ghcr.io/meshkeeper/meshkeeper:<Version>.
	Image string
	Out   string
}

// DefaultRepository is where meshkeeper's images are published.
const DefaultRepository = "ghcr.io/meshkeeper/meshkeeper"

// managerImage is the image name config/manager gives the manager, which the release replaces.
const managerImage = DefaultRepository

var semver = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// Build writes install.yaml and the packaged chart into opts.Out and returns their paths.
func Build(opts Options) ([]string, error) {
	if !semver.MatchString(opts.Version) {
		return nil, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH[-PRERELEASE]", opts.Version)
	}
	if opts.Image == "" {
		opts.Image = DefaultRepository + ":" + opts.Version
	}
	image, err := parseImage(opts.Image)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	install, err := installYAML(opts.Root, image)
	if err != nil {
		return nil, err
	}
	installPath := filepath.Join(opts.Out, "install.yaml")
	if err := os.WriteFile(installPath, install, 0o644); err != nil {
		return nil, err
	}
	chartPath, err := packageChart(opts.Root, opts.Version, image, opts.Out)
	if err != nil {
		return nil, err
	}
	return []string{installPath, chartPath}, nil
}

// releaseImage is the manager image split as kustomize and the chart take it.
type releaseImage struct {
	repository, tag, digest string
}

func (i releaseImage) String() string {
	if i.digest != "" {
		return i.repository + "@" + i.digest
	}
	return i.repository + ":" + i.tag
}

// parseImage accepts an image pinned by a tag other than latest, or by a digest.
func parseImage(s string) (releaseImage, error) {
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return releaseImage{}, fmt.Errorf("image %q: %w", s, err)
	}
	img := releaseImage{repository: ref.Name()}
	if !strings.Contains(s, "docker.io") {
		img.repository = reference.FamiliarName(ref)
	}
	if d, ok := ref.(reference.Digested); ok {
		img.digest = d.Digest().String()
	}
	if t, ok := ref.(reference.Tagged); ok {
		img.tag = t.Tag()
	}
	if img.digest == "" && (img.tag == "" || img.tag == "latest") {
		return releaseImage{}, fmt.Errorf("image %q: a release image needs a tag other than latest, or a digest", s)
	}
	return img, nil
}

// installYAML is `kustomize build config/default` with the manager image set to the release's, built
// through an overlay in memory so config/ is left as it is.
func installYAML(root string, image releaseImage) ([]byte, error) {
	abs, err := filepath.Abs(filepath.Join(root, "config", "default"))
	if err != nil {
		return nil, err
	}
	fs := filesys.MakeFsOnDisk()
	overlay, err := os.MkdirTemp("", "meshkeeper-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(overlay)
	// kustomize takes bases by relative path only.
	base, err := filepath.Rel(overlay, abs)
	if err != nil {
		return nil, err
	}
	imageOverride := types.Image{Name: managerImage, NewName: image.repository, NewTag: image.tag, Digest: image.digest}
	if image.digest != "" {
		imageOverride.NewTag = ""
	}
	kustomization := types.Kustomization{
		TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources: []string{base},
		Images:    []types.Image{imageOverride},
	}
	data, err := yamlMarshal(kustomization)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), data, 0o644); err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	resources, err := krusty.MakeKustomizer(opts).Run(fs, overlay)
	if err != nil {
		return nil, fmt.Errorf("kustomize build config/default: %w", err)
	}
	out, err := resources.AsYaml()
	if err != nil {
		return nil, err
	}
	header := "# meshkeeper: the CRD, RBAC, the manager Deployment and its metrics Service (kustomize build config/default).\n" +
		"# kubectl apply --server-side -f install.yaml\n"
	return append([]byte(header), out...), nil
}

// packageChart packages charts/meshkeeper as meshkeeper-<version>.tgz, with version and appVersion set
// to the release (what `helm package --version --app-version` does) and the chart's default image and
// Artifact Hub image annotation pointing at the release's image.
func packageChart(root, version string, image releaseImage, out string) (string, error) {
	chart, err := loader.LoadDir(filepath.Join(root, "charts", "meshkeeper"))
	if err != nil {
		return "", fmt.Errorf("loading the chart: %w", err)
	}
	chart.Metadata.Version = version
	chart.Metadata.AppVersion = version
	if a := chart.Metadata.Annotations["artifacthub.io/images"]; a != "" {
		chart.Metadata.Annotations["artifacthub.io/images"] =
			regexp.MustCompile(`image: \S+`).ReplaceAllString(a, "image: "+image.String())
	}
	// The packaged values.yaml deploys the release's image; its comments stay.
	for _, f := range chart.Raw {
		if f.Name != chartutil.ValuesfileName {
			continue
		}
		tag := image.tag
		if tag == version {
			tag = "" // the chart's appVersion
		}
		for key, value := range map[string]string{"repository": image.repository, "tag": tag, "digest": image.digest} {
			f.Data = imageValue(key).ReplaceAll(f.Data, []byte(fmt.Sprintf("${1}%q", value)))
		}
		values, err := common.ReadValues(f.Data)
		if err != nil {
			return "", fmt.Errorf("the chart's values: %w", err)
		}
		chart.Values = values
	}
	if err := chart.Validate(); err != nil {
		return "", fmt.Errorf("the chart: %w", err)
	}
	return chartutil.Save(chart, out)
}

// imageValue matches a key of the image block of the chart's values.yaml (two spaces in).
func imageValue(key string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^(  ` + key + `: ).*$`)
}

func yamlMarshal(v any) ([]byte, error) {
	return yaml.Marshal(v)
}
