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

package helm

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestArchitectureCountsTheRequestAttempts checks what docs/architecture.md says of the chart manager's
// retries against requestBackoff: retryRequest makes at most requestBackoff.Steps requests in all (the
// first one included, as TestTransientErrorsAreRetried counts them), so the page must give that number
// as the attempts in all, not as the tries that follow the first.
func TestArchitectureCountsTheRequestAttempts(t *testing.T) {
	page, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(page)), " ")
	m := regexp.MustCompile(`Each of its requests is tried up to (\d+) times in all`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("docs/architecture.md does not say how many times in all the chart manager makes a request that the API "+
			"server could not answer (%d, the first attempt included)", requestBackoff.Steps)
	}
	if n, _ := strconv.Atoi(m[1]); n != requestBackoff.Steps {
		t.Errorf("docs/architecture.md says a request is tried up to %d times in all; retryRequest makes at most %d", n, requestBackoff.Steps)
	}
}
