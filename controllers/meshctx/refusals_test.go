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

import "testing"

// Refusals hold the latest refusal of each object, and each change of what they hold, and only a
// change, wakes the status pass: a refusal recorded, its answer or direction changed, or one dropped.
func TestRefusalsWakeTheStatusPassOnChange(t *testing.T) {
	r := NewRefusals()
	denied := Refusal{Answer: "denied"}
	for _, step := range []struct {
		name    string
		do      func()
		wakesUp bool
	}{
		{name: "a first refusal", do: func() { r.Set("shop/web", denied) }, wakesUp: true},
		{name: "the same refusal again", do: func() { r.Set("shop/web", denied) }},
		{name: "another answer", do: func() { r.Set("shop/web", Refusal{Answer: "no"}) }, wakesUp: true},
		{name: "the same answer to the write taking back", do: func() { r.Set("shop/web", Refusal{Releasing: true, Answer: "no"}) }, wakesUp: true},
		{name: "the refusal dropped", do: func() { r.Forget("shop/web") }, wakesUp: true},
		{name: "an object without one dropped", do: func() { r.Forget("shop/web") }},
	} {
		before := r.changed.Value()
		step.do()
		if woke := r.changed.Value() != before; woke != step.wakesUp {
			t.Errorf("%s: the status pass woken: %v, want %v", step.name, woke, step.wakesUp)
		}
	}
	if refusal, refused := r.Of("shop/web"); refused {
		t.Errorf("a dropped refusal is still held: %+v", refusal)
	}

	var none *Refusals
	none.Set("shop/web", denied)
	none.Forget("shop/web")
	if _, refused := none.Of("shop/web"); refused {
		t.Error("a nil Refusals holds a refusal")
	}
}
