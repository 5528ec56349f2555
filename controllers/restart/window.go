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

package restart

import (
	"fmt"
	"slices"
	"time"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

var weekdays = map[meshv1alpha1.Weekday]time.Weekday{
	"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday, "Wed": time.Wednesday,
	"Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday,
}

// WindowOpen tells whether restarts may start at now (UTC), and when not, when the window opens next.
// A nil window is always open. A window whose end is not after its start closes on the next day.
func WindowOpen(w *meshv1alpha1.RestartWindow, now time.Time) (open bool, next time.Time, err error) {
	if w == nil {
		return true, time.Time{}, nil
	}
	start, err := minutes(w.Start)
	if err != nil {
		return false, time.Time{}, err
	}
	end, err := minutes(w.End)
	if err != nil {
		return false, time.Time{}, err
	}
	length := time.Duration((end-start+24*60)%(24*60)) * time.Minute
	on := func(day time.Time) bool {
		if len(w.Days) == 0 {
			return true
		}
		return slices.ContainsFunc(w.Days, func(d meshv1alpha1.Weekday) bool { return weekdays[d] == day.Weekday() })
	}
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for offset := -1; offset <= 7; offset++ {
		day := today.AddDate(0, 0, offset)
		if !on(day) {
			continue
		}
		opens := day.Add(time.Duration(start) * time.Minute)
		if !now.Before(opens) && now.Before(opens.Add(length)) {
			return true, time.Time{}, nil
		}
		if opens.After(now) {
			return false, opens, nil
		}
	}
	return false, time.Time{}, fmt.Errorf("the restart window never opens")
}

// minutes parses HH:MM as minutes after midnight.
func minutes(hhmm string) (int, error) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		return 0, fmt.Errorf("window time %q is not HH:MM: %w", hhmm, err)
	}
	return t.Hour()*60 + t.Minute(), nil
}
