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
	"slices"
	"testing"
)

func TestServerEnv(t *testing.T) {
	t.Setenv(ServerGOGCEnv, "")
	if env := ServerEnv(); env != nil {
		t.Errorf("ServerEnv() = %v without %s, want nothing", env, ServerGOGCEnv)
	}
	t.Setenv(ServerGOGCEnv, "400")
	if env := ServerEnv(); !slices.Equal(env, []string{"GOGC=400"}) {
		t.Errorf("ServerEnv() = %v, want [GOGC=400]", env)
	}
}
