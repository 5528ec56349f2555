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

package chaos

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// upstream is a stand-in API server that counts what reaches it; a watch streams until the client
// goes away.
func upstream(t *testing.T) (*rest.Config, *atomic.Int64) {
	t.Helper()
	var reached atomic.Int64
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		if r.URL.Query().Get("watch") == "true" {
			w.WriteHeader(http.StatusOK)
			for {
				if _, err := io.WriteString(w, `{"type":"BOOKMARK"}`+"\n"); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(server.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw})
	return &rest.Config{Host: server.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}, &reached
}

// proxyClient is an HTTP client configured from the proxy's kubeconfig, as the manager is.
func proxyClient(t *testing.T, p *Proxy) (*http.Client, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := p.WriteKubeconfig(path); err != nil {
		t.Fatal(err)
	}
	config, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		t.Fatal(err)
	}
	client.Timeout = 10 * time.Second
	return client, config.Host
}

func TestProxyForwardsAndCountsWrites(t *testing.T) {
	config, reached := upstream(t)
	p, err := NewProxy(config, 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client, host := proxyClient(t, p)
	for _, method := range []string{http.MethodPost, http.MethodPatch, http.MethodPatch, http.MethodGet, http.MethodDelete} {
		req, _ := http.NewRequest(method, host+"/api/v1/namespaces/a", strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s with faults off: %s", method, resp.Status)
		}
	}
	got := p.Counts()
	if got.Writes() != 4 || got.Reached[http.MethodPatch] != 2 || got.Reached[http.MethodGet] != 1 || len(got.Faults) != 0 {
		t.Errorf("counts = %+v, want 4 writes (2 PATCH), 1 GET, no fault", got)
	}
	if reached.Load() != 5 {
		t.Errorf("the API server saw %d requests, want 5", reached.Load())
	}
	if want := []string{"POST /api/v1/namespaces/a", "PATCH /api/v1/namespaces/a", "PATCH /api/v1/namespaces/a", "DELETE /api/v1/namespaces/a"}; strings.Join(p.LastWrites(), ",") != strings.Join(want, ",") {
		t.Errorf("last writes = %v, want %v", p.LastWrites(), want)
	}
	p.Reset()
	if got := p.Counts(); got.Writes() != 0 {
		t.Errorf("counts after Reset = %+v", got)
	}
}

func TestProxyFaultsEveryRequestAtRateOne(t *testing.T) {
	config, reached := upstream(t)
	p, err := NewProxy(config, 7, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetFaultRate(1)
	client, host := proxyClient(t, p)
	codes := map[string]int{}
	for range 200 {
		req, _ := http.NewRequest(http.MethodPatch, host+"/api/v1/namespaces/a", strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			codes["no answer"]++
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		codes[resp.Status]++
		var status metav1.Status
		if err := json.Unmarshal(body, &status); err != nil || status.Kind != "Status" || int(status.Code) != resp.StatusCode {
			t.Errorf("%s: the body is not the API server's Status: %s", resp.Status, body)
		}
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("429 without Retry-After: %v", resp.Header)
		}
	}
	for _, want := range []string{"409 Conflict", "429 Too Many Requests", "500 Internal Server Error", "no answer"} {
		if codes[want] == 0 {
			t.Errorf("no %q among 200 faulted writes: %v", want, codes)
		}
	}
	if reached.Load() != 0 || p.Counts().Writes() != 0 {
		t.Errorf("faulted writes reached the API server: %d seen, counts %+v", reached.Load(), p.Counts())
	}
	if got := p.Counts().Faults; got[FaultConflict]+got[FaultThrottle]+got[FaultInternal]+got[FaultHang] != 200 {
		t.Errorf("faults counted = %v, want 200", got)
	}
}

func TestProxyClosesFaultedWatches(t *testing.T) {
	config, _ := upstream(t)
	p, err := NewProxy(config, 3, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client, host := proxyClient(t, p)
	client.Timeout = 0
	resp, err := client.Get(host + "/api/v1/namespaces?watch=true")
	if err != nil {
		t.Fatal(err)
	}
	// A watch opened before the faults is closed once they are on.
	time.Sleep(1500 * time.Millisecond)
	p.SetFaultRate(1)
	start := time.Now()
	events, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the watch stayed open %s after faults went on, want it closed within a second", took)
	}
	if resp.StatusCode != http.StatusOK || strings.Count(string(events), "BOOKMARK") < 10 {
		t.Errorf("the watch was not forwarded before it was closed: %s %q", resp.Status, events)
	}
	if got := p.Counts(); got.Reached["WATCH"] != 1 || got.Faults[FaultWatchClosed] != 1 {
		t.Errorf("counts = %+v, want one watch reached and closed", got)
	}
}
