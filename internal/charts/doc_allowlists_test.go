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

package charts_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// TestEmptyAllowListsAsDocumented: an empty --allowed-chart-repositories (main.go parses it with
// ParseList) still allows the built-in charts, which need no repository, but an empty
// --allowed-image-hubs refuses every hub, the default hub the built-in charts pull from included.
// docs/security.md#allow-lists says what each empty flag does, so that an installer who empties the
// hubs to allow "only the built-in charts" is not surprised by ImageHubNotAllowed.
func TestEmptyAllowListsAsDocumented(t *testing.T) {
	empty := charts.Policy{Repositories: charts.ParseList(""), ImageHubs: charts.ParseList("")}
	if err := empty.CheckRepository(""); err != nil {
		t.Errorf("an empty --allowed-chart-repositories refuses the built-in charts: %v", err)
	}
	if err := empty.CheckImageHubs([]string{charts.DefaultImageHubs[0]}); !errors.Is(err, charts.ErrImageHubNotAllowed) {
		t.Errorf("an empty --allowed-image-hubs allows %s: %v", charts.DefaultImageHubs[0], err)
	}

	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	section, _, _ := strings.Cut(string(doc)[strings.Index(string(doc), "## Allow-lists"):], "\n## What a chart may render")
	_, sentence, found := strings.Cut(strings.Join(strings.Fields(section), " "), "An empty flag allows nothing")
	sentence, _, _ = strings.Cut(sentence, ". ")
	if !found {
		t.Fatal("docs/security.md#allow-lists does not say what an empty flag allows")
	}
	if !strings.Contains(sentence, "--allowed-image-hubs") || !strings.Contains(sentence, "ImageHubNotAllowed") {
		t.Errorf("docs/security.md#allow-lists says of an empty flag %q: it does not say that an empty "+
			"--allowed-image-hubs refuses the built-in charts' hub too (ImageHubNotAllowed)", "An empty flag allows nothing"+sentence)
	}
}
