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

// Package chaos runs meshkeeper's manager binary on the simulated cluster (test/cluster) through a
// fault-injecting proxy in front of the API server, and drives it with seeded random operation
// sequences, checking after each step that the mesh converged and nothing of the user's was lost.
// The cluster tests build with the "cluster" tag; the proxy is plain code with a pure test.
package chaos

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Fault is what the proxy does to a request it chose to fault.
type Fault string

const (
	// FaultConflict answers 409 Conflict, as an update on a stale resourceVersion gets (writes only).
	FaultConflict Fault = "409"
	// FaultThrottle answers 429 Too Many Requests with Retry-After, as API priority and fairness does.
	FaultThrottle Fault = "429"
	// FaultInternal answers 500 Internal Server Error.
	FaultInternal Fault = "500"
	// FaultHang holds the request without an answer for the hang time, then resets it, as a request
	// the API server times out or a lost connection does.
	FaultHang Fault = "hang"
	// FaultWatchClosed closes an open watch's stream; the client must watch again. Each second of
	// faults, each open watch is closed at the fault rate. A watch is never held without events.
	FaultWatchClosed Fault = "watch-closed"
)

// writeFaults and readFaults are what a faulted request may get, each equally likely except hangs,
// which cost the client the hang time each and are rarer.
var (
	writeFaults = []Fault{FaultConflict, FaultConflict, FaultThrottle, FaultThrottle, FaultInternal, FaultInternal, FaultHang}
	readFaults  = []Fault{FaultThrottle, FaultThrottle, FaultInternal, FaultInternal, FaultHang}
)

// Counts is what went through the proxy since the last Reset.
type Counts struct {
	// Reached counts the requests forwarded to the API server, by HTTP method; a watch counts as WATCH.
	Reached map[string]int
	// Faults counts the requests the proxy answered or cut itself, by fault.
	Faults map[Fault]int
	// Targets counts the writes that reached the API server by "METHOD path", with " (dry run)" for a
	// dry run, so a failure can say what was written too often.
	Targets map[string]int
}

// TopTargets returns the n most written targets with their counts, most first.
func (c Counts) TopTargets(n int) []string {
	targets := make([]string, 0, len(c.Targets))
	for t := range c.Targets {
		targets = append(targets, t)
	}
	slices.SortFunc(targets, func(a, b string) int {
		if c.Targets[a] != c.Targets[b] {
			return c.Targets[b] - c.Targets[a]
		}
		return strings.Compare(a, b)
	})
	if len(targets) > n {
		targets = targets[:n]
	}
	out := make([]string, len(targets))
	for i, t := range targets {
		out[i] = fmt.Sprintf("%d× %s", c.Targets[t], t)
	}
	return out
}

// Writes is the number of writes (POST, PUT, PATCH, DELETE) that reached the API server.
func (c Counts) Writes() int {
	return c.Reached[http.MethodPost] + c.Reached[http.MethodPut] + c.Reached[http.MethodPatch] + c.Reached[http.MethodDelete]
}

// Proxy is an HTTPS reverse proxy in front of an API server. Its clients need no credentials: it
// forwards with the ones it was given. At the fault rate it answers a request itself with a fault.
type Proxy struct {
	server  *httptest.Server
	forward *httputil.ReverseProxy
	hang    time.Duration

	mu        sync.Mutex
	rng       *rand.Rand
	rate      float64
	counts    Counts
	lastSeen  []string // the latest writes forwarded, "METHOD path", for failure messages
	watches   map[uint64]context.CancelFunc
	nextWatch uint64
	done      chan struct{}
}

// lastSeenMax bounds Proxy.lastSeen.
const lastSeenMax = 50

// NewProxy starts a proxy to the API server of upstream, with faults off. seed makes the choice of
// faulted requests repeatable for a given order of requests. A faulted hang lasts hang.
func NewProxy(upstream *rest.Config, seed uint64, hang time.Duration) (*Proxy, error) {
	target, err := url.Parse(upstream.Host)
	if err != nil {
		return nil, fmt.Errorf("parsing the API server's address: %w", err)
	}
	transport, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, fmt.Errorf("creating the upstream transport: %w", err)
	}
	p := &Proxy{
		hang:    hang,
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		watches: map[uint64]context.CancelFunc{},
		done:    make(chan struct{}),
	}
	p.resetLocked()
	p.forward = &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: transport,
		// Watches stream: every event goes to the client as it comes.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeStatus(w, http.StatusBadGateway, metav1.StatusReasonServiceUnavailable, "proxy: "+err.Error())
		},
	}
	p.server = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.server.EnableHTTP2 = true
	p.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.server.StartTLS()
	go p.closeWatches()
	return p, nil
}

// closeWatches closes, every second while faults are on, each open watch at the fault rate.
func (p *Proxy) closeWatches() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		for id, cancel := range p.watches {
			if p.rate > 0 && p.rng.Float64() < p.rate {
				cancel()
				delete(p.watches, id)
				p.counts.Faults[FaultWatchClosed]++
			}
		}
		p.mu.Unlock()
	}
}

// SetFaultRate sets the share of requests, between 0 and 1, that get a fault.
func (p *Proxy) SetFaultRate(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = rate
}

// Counts returns a copy of the counts since the last Reset.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Counts{Reached: maps.Clone(p.counts.Reached), Faults: maps.Clone(p.counts.Faults),
		Targets: maps.Clone(p.counts.Targets)}
}

// LastWrites returns the latest writes forwarded, oldest first.
func (p *Proxy) LastWrites() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lastSeen)
}

// Reset sets the counts to zero.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resetLocked()
}

func (p *Proxy) resetLocked() {
	p.counts = Counts{Reached: map[string]int{}, Faults: map[Fault]int{}, Targets: map[string]int{}}
	p.lastSeen = nil
}

// Close stops the proxy and cuts every open connection, watches included.
func (p *Proxy) Close() {
	close(p.done)
	p.server.CloseClientConnections()
	p.server.Close()
}

// URL is the proxy's address.
func (p *Proxy) URL() string { return p.server.URL }

// WriteKubeconfig writes a kubeconfig for the proxy, without credentials, at path.
func (p *Proxy) WriteKubeconfig(path string) error {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.server.Certificate().Raw})
	config := clientcmdapi.NewConfig()
	config.Clusters["proxy"] = &clientcmdapi.Cluster{Server: p.server.URL, CertificateAuthorityData: ca}
	config.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	config.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	config.CurrentContext = "proxy"
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		return fmt.Errorf("writing the proxy's kubeconfig: %w", err)
	}
	return nil
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	watch := r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1"
	method := r.Method
	if watch {
		method = "WATCH"
	}
	if watch {
		ctx, done := p.openWatch(r.Context(), r.URL.Path)
		defer done()
		p.forward.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	target := r.URL.Path
	if r.URL.Query().Has("dryRun") {
		target += " (dry run)"
	}
	switch p.decide(method, target) {
	case "":
		p.forward.ServeHTTP(w, r)
	case FaultConflict:
		writeStatus(w, http.StatusConflict, metav1.StatusReasonConflict, "injected conflict: the object has been modified")
	case FaultThrottle:
		w.Header().Set("Retry-After", "1")
		writeStatus(w, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, "injected: too many requests, please try again later")
	case FaultInternal:
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "injected internal error")
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-time.After(p.hang):
		}
		// Resets the stream (HTTP/2) or closes the connection (HTTP/1): the client sees no answer.
		panic(http.ErrAbortHandler)
	}
}

// openWatch counts a watch and registers it for closeWatches; done unregisters it.
func (p *Proxy) openWatch(ctx context.Context, path string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.countLocked("WATCH", path)
	id := p.nextWatch
	p.nextWatch++
	p.watches[id] = cancel
	return ctx, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.watches, id)
		cancel()
	}
}

// decide picks the request's fault, or none; a request without a fault is counted as reaching the
// API server.
func (p *Proxy) decide(method, path string) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rate > 0 && p.rng.Float64() < p.rate {
		faults := readFaults
		if isWrite(method) {
			faults = writeFaults
		}
		fault := faults[p.rng.IntN(len(faults))]
		p.counts.Faults[fault]++
		return fault
	}
	p.countLocked(method, path)
	return ""
}

func (p *Proxy) countLocked(method, path string) {
	p.counts.Reached[method]++
	if isWrite(method) {
		p.counts.Targets[method+" "+path]++
		p.lastSeen = append(p.lastSeen, method+" "+path)
		if len(p.lastSeen) > lastSeenMax {
			p.lastSeen = p.lastSeen[1:]
		}
	}
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// writeStatus answers as the API server does: a metav1.Status, so clients read the reason.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	status := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Code:     int32(code),
	}
	if code == http.StatusTooManyRequests {
		status.Details = &metav1.StatusDetails{RetryAfterSeconds: 1}
	}
	body, _ := json.Marshal(status)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
