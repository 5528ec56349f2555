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

package meshctx

import (
	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// ProxyTags gives, for each Istio version of a mesh, the tag of the sidecar image its istiod injects
// (render.ProxyTag of the istiod values, so a tag or image set in spec.values counts), each worked out
// once. The status pass and the restarts judge a proxy's image by it.
type ProxyTags struct {
	spec *meshv1alpha1.ServiceMeshSpec
	tags map[string]string
}

// NewProxyTags returns the proxy tags of the mesh's spec.
func NewProxyTags(mesh *meshv1alpha1.ServiceMesh) *ProxyTags {
	return &ProxyTags{spec: &mesh.Spec, tags: map[string]string{}}
}

// For returns the tag for version; "" when the values cannot be made (the spec is invalid, which the
// ServiceMesh reports), and then the version itself is compared.
func (t *ProxyTags) For(version string) string {
	if tag, ok := t.tags[version]; ok {
		return tag
	}
	tag := ""
	if values, err := render.IstiodValues(t.spec, version); err == nil {
		tag = render.ProxyTag(values)
	}
	t.tags[version] = tag
	return tag
}
