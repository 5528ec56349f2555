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
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// Suite is the T of a TestMain that sets up one environment for all of a package's tests: Start and
// the set-up code register their cleanups with it, and Close runs them after the tests. RunSuite is
// the whole of such a TestMain:
//
//	func TestMain(m *testing.M) {
//		os.Exit(testenv.RunSuite(m, func(s *testenv.Suite) { apiServer = testenv.Start(s) }))
//	}
type Suite struct {
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

var _ T = (*Suite)(nil)

// RunSuite sets up a Suite with setUp, runs m's tests if that succeeded, closes the suite and returns
// the exit code: m's, or 1 when the set-up failed or a cleanup did (an API server that did not stop).
func RunSuite(m *testing.M, setUp func(*Suite)) int {
	suite := &Suite{}
	code := 1
	if suite.SetUp(setUp) {
		code = m.Run()
	}
	suite.Close()
	if suite.Failed() && code == 0 {
		code = 1
	}
	return code
}

// SetUp runs setUp and tells whether it succeeded. setUp runs in a goroutine of its own, so that
// Fatalf can end it as it ends a test.
func (s *Suite) SetUp(setUp func(*Suite)) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		setUp(s)
	}()
	<-done
	return !s.Failed()
}

// Close runs the registered cleanups, the last registered first.
func (s *Suite) Close() {
	s.mu.Lock()
	cleanups := slices.Clone(s.cleanups)
	s.cleanups = nil
	s.mu.Unlock()
	for _, f := range slices.Backward(cleanups) {
		f()
	}
}

// Failed tells whether the set-up or a cleanup failed.
func (s *Suite) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Helper does nothing: a Suite reports no line numbers.
func (s *Suite) Helper() {}

// Cleanup registers f to run at Close.
func (s *Suite) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// Errorf reports a failure on stderr and marks the suite failed.
func (s *Suite) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = true
}

// Fatalf reports a failure and ends the set-up. Call it only from the goroutine SetUp runs.
func (s *Suite) Fatalf(format string, args ...any) {
	s.Errorf(format, args...)
	runtime.Goexit()
}
