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

package argocd

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// apiDir holds the API types, whose Reason constants are every reason meshkeeper writes.
var apiDir = filepath.Join("..", "..", "api", "v1alpha1")

// readyReasons is what the Argo CD check must answer for each reason of the API when Ready carries it,
// False, for the current generation. A reason added to the API fails
// TestEveryReasonOfReadyHasItsHealth until it is placed here, so the check cannot fall behind the
// status again (it once showed a mesh whose CNI agent was still rolling out to its nodes as Degraded,
// which fails an Argo CD sync).
var readyReasons = map[string]string{
	// On its way: meshkeeper, istiod or the CNI agent gets there by itself.
	"Reconciling":            "Progressing",
	"RollingOut":             "Progressing",
	"DeploymentMissing":      "Progressing",
	"NamespaceTerminating":   "Progressing",
	"IstioCRDsMissing":       "Progressing",
	"DaemonSetMissing":       "Progressing",
	"NodesNotReady":          "Progressing",
	"WaitingForControlPlane": "Progressing",

	// Needs a person. The terminal ones also set Stalled; InstallFailed, ChartRepositoryUnreachable,
	// IngressWriteRefused and NamespaceWriteRefused are retried, but a sync must not wait on them as if
	// they were progress (docs/argocd.md): only a change to the admission webhook or policy that refuses an
	// Ingress or namespace write, or a webhook made to answer, lets their writes through.
	"InvalidSpec":                "Degraded",
	"ProgressDeadlineExceeded":   "Degraded",
	"ChartNotFound":              "Degraded",
	"ChartRepositoryUnreachable": "Degraded",
	"RepositoryNotAllowed":       "Degraded",
	"ImageHubNotAllowed":         "Degraded",
	"NamespaceNotAllowed":        "Degraded",
	"InstallFailed":              "Degraded",
	"UpgradeNotSupported":        "Degraded",
	"InjectionLabelConflict":     "Degraded",
	"PodSecurityRejectsSidecar":  "Degraded",
	"CNIExcludesNamespace":       "Degraded",
	"PodSecurityRejectsAgent":    "Degraded",
	"IngressesSkipped":           "Degraded",
	"ControllerNotFound":         "Degraded",
	"HostNetwork":                "Degraded",
	"NamespaceInjectionDisabled": "Degraded",
	"NamespaceNeverInjected":     "Degraded",
	"CustomAnnotationsPrefix":    "Degraded",
	"AnnotationConflict":         "Degraded",
	"NoBackend":                  "Degraded",
	"ResourceBackend":            "Degraded",
	"MultipleBackendServices":    "Degraded",
	"ServiceMissing":             "Degraded",
	"ServiceExternalName":        "Degraded",
	"ServiceHeadless":            "Degraded",
	"ServiceNotCaptured":         "Degraded",
	"ServiceNotExported":         "Degraded",
	"SharedUpstream":             "Degraded",
	"CanaryIngress":              "Degraded",
	"ClassNotListed":             "Degraded",
	"ServiceCIDRsUnknown":        "Degraded",
	"IngressWriteRefused":        "Degraded",
	"NamespaceWriteRefused":      "Degraded",
	"PolicyConflict":             "Degraded",
	// Progressing instead while meshkeeper's automatic restarts clear it (restartingReasons).
	"PlaintextClients": "Degraded",
	// No restart clears it: the namespaces must be enrolled, or their STRICT override removed.
	"StrictNamespacesNotEnrolled": "Degraded",
	// DataPlaneUpToDate's reason that Ready takes on: the canary namespaces are back on the active
	// revision until a person changes the spec.
	"CanaryRolledBack": "Degraded",

	// Needs a person, on a ServiceMesh being deleted (deletionReasons): the control plane is gone, but
	// objects refuse to give back meshkeeper's labels and annotations, and its finalizer stays until they do;
	// or a step of the uninstall failed, a release's above all, and is retried as InstallFailed is.
	"UninstallBlocked": "Degraded",
	"UninstallFailed":  "Degraded",

	// Never the reason of a False Ready: reasons of a True condition, of DataPlaneUpToDate (which Ready
	// does not summarise, but for CanaryRolledBack), of a namespace's or an Ingress's decision, and of Events.
	"Succeeded":             "",
	"Available":             "",
	"CNIDisabled":           "",
	"Enrolled":              "",
	"Configured":            "",
	"IngressNginxDisabled":  "",
	"Applied":               "",
	"NoPlaintextClients":    "",
	"UpToDate":              "",
	"RestartNeeded":         "",
	"Restarting":            "",
	"Restarted":             "",
	"RestartStalled":        "",
	"RestartFailed":         "",
	"NotRestartable":        "",
	"Listed":                "",
	"SelectorMatched":       "",
	"NotSelected":           "",
	"SystemNamespace":       "",
	"ControlPlaneNamespace": "",
	"Terminating":           "",
	"ClassNotServed":        "",
	"NamespaceNotEnrolled":  "",
	"MalformedEgressHosts":  "",
	"ValuesOverrideSpec":    "",
	"TagMoved":              "",
	"RevisionDraining":      "",
	"RevisionPruned":        "",
	"RevisionPruneBlocked":  "",
	// Of an Ingress's decision only: IngressesConfigured then carries the controller's reason.
	"ControllerWithoutSidecar": "",

	// Of an Event only; ControlPlaneReady's message names the same namespaces.
	"CanaryNamespacesNotEnrolled": "",
	"RevisionNameShared":          "",
}

// restartingReasons are the reasons of readyReasons that the check answers Progressing instead while
// Reconciling is True with the same reason for the current generation: meshkeeper sets it, not Stalled,
// for pods without a sidecar under STRICT mTLS while its automatic restarts are restarting workloads
// (controllers/servicemesh/status.go setReconcilingOrStalled), and kstatus waits for those restarts. Any
// other reason keeps its health with Reconciling True: the failures meshkeeper retries set it too, and
// Argo CD shows them Degraded all the same (docs/argocd.md).
var restartingReasons = map[string]bool{
	"PlaintextClients": true,
}

// deletionReasons are the reasons meshkeeper gives Ready only on a ServiceMesh being deleted (by then
// the only condition it writes, for the generation the deletion bumped to). The check reads them while
// meshkeeper's finalizer holds the ServiceMesh; any other Ready is the installed mesh's and tells nothing
// about the uninstall.
var deletionReasons = map[string]bool{
	"UninstallBlocked": true,
	"UninstallFailed":  true,
}

// apiReasons returns the values of the API's Reason constants, read from its source.
func apiReasons(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(apiDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: %s is not a string literal", file, name.Name)
					}
					value, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					reasons[value] = name.Name
				}
			}
		}
	}
	if len(reasons) < 40 {
		t.Fatalf("found only %d Reason constants in %s: the parser missed them", len(reasons), apiDir)
	}
	return reasons
}

// TestEveryReasonOfReadyHasItsHealth runs the check on a ServiceMesh whose Ready is False, for the
// current generation, with each reason of the API, and compares with readyReasons: on a ServiceMesh being
// deleted, held by meshkeeper's finalizer, for deletionReasons, and on one that is not for the others.
// Every reason of the API must be in readyReasons, and nothing else.
func TestEveryReasonOfReadyHasItsHealth(t *testing.T) {
	script, _ := readHealthCheck(t)
	reasons := apiReasons(t)
	var unplaced []string
	for value, name := range reasons {
		if _, ok := readyReasons[value]; !ok {
			unplaced = append(unplaced, name+" ("+value+")")
		}
	}
	sort.Strings(unplaced)
	if len(unplaced) > 0 {
		t.Errorf("reasons of the API the Argo CD check is not known to handle: %s; place each in readyReasons "+
			"and make health.lua answer it", strings.Join(unplaced, ", "))
	}
	for value, want := range readyReasons {
		if _, ok := reasons[value]; !ok {
			t.Errorf("readyReasons has %q, which the API does not define", value)
		}
		if deletionReasons[value] && want == "" {
			t.Errorf("%s is a reason of a ServiceMesh being deleted, but readyReasons gives it no health", value)
		}
		if want == "" {
			continue
		}
		message := "what " + value + " says"
		for _, machine := range vms {
			got, err := machine.vm.executeHealthLua(readyFalse(value, message, deletionReasons[value]), script)
			if err != nil {
				t.Fatalf("%s: the script failed: %v", value, err)
			}
			wantDeletionMessage := ""
			if deletionReasons[value] {
				wantDeletionMessage = message // what Argo CD 3.6 shows of an object being deleted
			}
			if got.Status != want || got.Message != message || got.DeletionMessage != wantDeletionMessage {
				t.Errorf("%s, %s: got %s (%q, deletionMessage %q), want %s with Ready's message", value, machine.name,
					got.Status, got.Message, got.DeletionMessage, want)
			}
			if deletionReasons[value] {
				continue // meshkeeper writes no Reconciling on a ServiceMesh being deleted
			}
			wantReconciling := want
			if restartingReasons[value] {
				wantReconciling = "Progressing"
			}
			got, err = machine.vm.executeHealthLua(reconcilingToo(readyFalse(value, message, false)), script)
			if err != nil {
				t.Fatalf("%s with Reconciling: the script failed: %v", value, err)
			}
			if got.Status != wantReconciling || got.Message != message {
				t.Errorf("%s with Reconciling True for it, %s: got %s (%q), want %s with Ready's message", value, machine.name,
					got.Status, got.Message, wantReconciling)
			}
		}
	}
	for value := range restartingReasons {
		if readyReasons[value] != "Degraded" {
			t.Errorf("restartingReasons has %s, which readyReasons does not give Degraded", value)
		}
	}
}

// reconcilingToo adds to the ServiceMesh of readyFalse a Reconciling condition, True for the current
// generation with Ready's reason and message, as meshkeeper writes it for a failure it retries or pods
// its automatic restarts are restarting.
func reconcilingToo(obj map[string]any) map[string]any {
	status := obj["status"].(map[string]any)
	ready := status["conditions"].([]any)[0].(map[string]any)
	reconciling := map[string]any{"type": "Reconciling", "status": "True"}
	for _, field := range []string{"reason", "message", "observedGeneration"} {
		reconciling[field] = ready[field]
	}
	status["conditions"] = append(status["conditions"].([]any), reconciling)
	return obj
}

// readyFalse is a ServiceMesh whose Ready is False with reason and message for the current generation;
// deleting, it is being deleted and held by meshkeeper's finalizer, the deletion having bumped its
// generation past status.observedGeneration.
func readyFalse(reason, message string, deleting bool) map[string]any {
	generation, observed := int64(2), int64(2)
	metadata := map[string]any{}
	if deleting {
		generation = 3
		metadata["deletionTimestamp"] = "2026-08-31T07:40:12Z"
		metadata["finalizers"] = []any{"mesh.meshkeeper.io/finalizer"}
	}
	metadata["generation"] = generation
	return map[string]any{
		"metadata": metadata,
		"status": map[string]any{"observedGeneration": observed, "conditions": []any{
			map[string]any{"type": "Ready", "status": "False", "reason": reason, "message": message,
				"observedGeneration": generation},
		}},
	}
}

// TestDeletionReadsOnlyDeletionReasons: on a ServiceMesh being deleted and held by meshkeeper's
// finalizer, a Ready False for the current generation with any reason but those of deletionReasons
// leaves the health to the finalizer (Progressing, the uninstall under way).
func TestDeletionReadsOnlyDeletionReasons(t *testing.T) {
	script, _ := readHealthCheck(t)
	for value := range apiReasons(t) {
		if deletionReasons[value] {
			continue
		}
		for _, machine := range vms {
			got, err := machine.vm.executeHealthLua(readyFalse(value, "what "+value+" says", true), script)
			if err != nil {
				t.Fatalf("%s: the script failed: %v", value, err)
			}
			if got.Status != "Progressing" || got.DeletionMessage != uninstallingIstioSystem {
				t.Errorf("%s, %s: got %s (%q), want Progressing, the uninstall under way", value, machine.name,
					got.Status, got.DeletionMessage)
			}
		}
	}
}

// controllersDir holds meshkeeper's controllers, whose Eventf calls are every Event meshkeeper records.
var controllersDir = filepath.Join("..", "..", "controllers")

// computedEventReasons are the reasons of the Eventf calls whose reason is computed rather than a
// constant, keyed by the call's file (under controllers) and its reason expression: the values that
// expression can take. A new call of that kind fails TestEveryEventReasonIsInTheEventsTable until it
// is placed here.
var computedEventReasons = map[string][]string{
	// The chart that cannot be had, or a source the allow-lists refuse (chartUnavailable).
	"servicemesh/controlplane.go reason": {"ChartNotFound", "ChartRepositoryUnreachable", "RepositoryNotAllowed", "ImageHubNotAllowed"},
	// The Helm action that ran (helm.Action; None and Repaired record no Event of their name).
	"servicemesh/controlplane.go string(result.Action)": {"Installed", "Upgraded", "Recovered"},
	// A selected namespace meshkeeper does not enroll for a reason of its own.
	"namespace/controller.go d.Reason": {"InjectionLabelConflict", "PodSecurityRejectsSidecar", "CNIExcludesNamespace"},
	// A mesh Ingress meshkeeper leaves unchanged (ControllerWithoutSidecar records none).
	"ingress/ingress.go d.Reason": {"MultipleBackendServices", "ServiceMissing", "ServiceHeadless", "ServiceNotCaptured", "ServiceNotExported", "ServiceExternalName", "SharedUpstream",
		"ResourceBackend", "NoBackend", "CanaryIngress", "ClassNotListed", "AnnotationConflict"},
	// MTLSReady's reason when it is False (reportMTLS).
	"servicemesh/status.go c.Reason": {"PlaintextClients", "StrictNamespacesNotEnrolled"},
	// The ingress-nginx controller meshkeeper cannot configure.
	"ingress/workload.go reason": {"ControllerNotFound", "HostNetwork", "NamespaceNeverInjected", "NamespaceInjectionDisabled", "CustomAnnotationsPrefix",
		"PodSecurityRejectsSidecar", "CNIExcludesNamespace", "AnnotationConflict", "ServiceCIDRsUnknown"},
}

// recordedEvents returns, for each reason of an Event the controllers record, its types (Normal,
// Warning), read from the source: every Eventf call with a reason that is a string, a constant of the
// API or of the call's package, or one of computedEventReasons.
func recordedEvents(t *testing.T) map[string]map[string]bool {
	t.Helper()
	api := map[string]string{} // constant name → value
	for value, name := range apiReasons(t) {
		api[name] = value
	}
	fset := token.NewFileSet()
	events := map[string]map[string]bool{}
	record := func(reason, eventType string) {
		if events[reason] == nil {
			events[reason] = map[string]bool{}
		}
		events[reason][eventType] = true
	}
	calls := 0
	err := filepath.WalkDir(controllersDir, func(dir string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			return err
		}
		files := map[string]*ast.File{} // the package of dir, by file
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				return err
			}
			files[name] = f
		}
		consts := map[string]string{} // the package's string constants
		for _, f := range files {
			for _, decl := range f.Decls {
				if gen, ok := decl.(*ast.GenDecl); ok && gen.Tok == token.CONST {
					for _, spec := range gen.Specs {
						vs := spec.(*ast.ValueSpec)
						for i, name := range vs.Names {
							if i < len(vs.Values) {
								if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
									consts[name.Name], _ = strconv.Unquote(lit.Value)
								}
							}
						}
					}
				}
			}
		}
		for file, f := range files {
			rel, _ := filepath.Rel(controllersDir, file)
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Eventf" || len(call.Args) < 6 {
					return true
				}
				if fn, ok := sel.X.(*ast.SelectorExpr); ok && fn.Sel.Name == "EventRecorder" {
					return true // BoundedRecorder passing every Event on
				}
				calls++
				where := fset.Position(call.Pos()).String()
				typ, ok := call.Args[2].(*ast.SelectorExpr)
				if !ok || (typ.Sel.Name != "EventTypeNormal" && typ.Sel.Name != "EventTypeWarning") {
					t.Errorf("%s: the Event's type is not corev1.EventTypeNormal or EventTypeWarning", where)
					return true
				}
				eventType := strings.TrimPrefix(typ.Sel.Name, "EventType")
				switch reason := call.Args[3].(type) {
				case *ast.BasicLit:
					value, _ := strconv.Unquote(reason.Value)
					record(value, eventType)
					return true
				case *ast.SelectorExpr:
					if value, ok := api[reason.Sel.Name]; ok {
						record(value, eventType)
						return true
					}
				case *ast.Ident:
					if value, ok := consts[reason.Name]; ok {
						record(value, eventType)
						return true
					}
				}
				var expr strings.Builder
				if err := printer.Fprint(&expr, fset, call.Args[3]); err != nil {
					t.Fatal(err)
				}
				key := filepath.ToSlash(rel) + " " + expr.String()
				values, ok := computedEventReasons[key]
				if !ok {
					t.Errorf("%s: the Event's reason %s is computed; place what it can be in computedEventReasons under %q",
						where, expr.String(), key)
				}
				for _, value := range values {
					record(value, eventType)
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 30 {
		t.Fatalf("found only %d Eventf calls in %s: the parser missed them", calls, controllersDir)
	}
	return events
}

// TestEveryEventReasonIsInTheEventsTable: every reason of an Event meshkeeper records is named in a row
// of the Events table of docs/troubleshooting.md, whose type is the Event's, and every reason the table
// names is recorded. A user who sees an Event looks its reason up there, and an alert or a
// kubectl get events --field-selector written from the table must match what is recorded.
func TestEveryEventReasonIsInTheEventsTable(t *testing.T) {
	recorded := recordedEvents(t)
	f, err := os.Open(filepath.Join("..", "..", "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	documented := map[string]map[string]bool{}
	section := false
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "#") {
			section = line == "## Events"
			continue
		}
		cells := strings.Split(line, "|")
		if !section || len(cells) < 5 {
			continue
		}
		eventType := strings.TrimSpace(cells[2])
		if eventType != "Normal" && eventType != "Warning" {
			continue
		}
		for _, m := range docReason.FindAllStringSubmatch(cells[1], -1) {
			if documented[m[1]] == nil {
				documented[m[1]] = map[string]bool{}
			}
			documented[m[1]][eventType] = true
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if len(documented) == 0 {
		t.Fatal(`docs/troubleshooting.md has no row of Normal or Warning Events under "## Events"`)
	}
	for _, reason := range slices.Sorted(maps.Keys(recorded)) {
		for _, eventType := range slices.Sorted(maps.Keys(recorded[reason])) {
			if !documented[reason][eventType] {
				t.Errorf("meshkeeper records %s Events with reason %s, which the Events table of docs/troubleshooting.md does not list as %s",
					eventType, reason, eventType)
			}
		}
	}
	for _, reason := range slices.Sorted(maps.Keys(documented)) {
		for _, eventType := range slices.Sorted(maps.Keys(documented[reason])) {
			if !recorded[reason][eventType] && reason != "ControllerWithoutSidecar" {
				t.Errorf("the Events table of docs/troubleshooting.md lists %s as a %s Event, which meshkeeper does not record", reason, eventType)
			}
		}
	}
}
