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

package policy

import (
	goflag "flag"
	"io"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
)

// controllerStringFlags are string flags of the controller the tests give: those meshkeeper reads, and
// others a command line gives before them.
var controllerStringFlags = []string{"annotations-prefix", "ingress-class", "controller-class", "configmap", "election-id",
	"publish-service", "log_dir", "vmodule"}

// pflagRead parses args with a pflag.FlagSet of the controller's flags, as the controller parses its
// command line (its bool flags, string flags, and klog's -v, a Go flag of one letter), and returns what
// it reads of the flags meshkeeper reads, with ok false where pflag refuses the command line.
func pflagRead(t *testing.T, args []string) (read flagsRead, ok bool) {
	t.Helper()
	flags := pflag.NewFlagSet("", pflag.ContinueOnError)
	flags.SetOutput(io.Discard)
	for _, name := range sets.List(controllerBoolFlags) {
		flags.Bool(name, false, "")
	}
	for _, name := range controllerStringFlags {
		flags.String(name, "", "")
	}
	prefix := flags.Lookup("annotations-prefix")
	prefix.DefValue = DefaultAnnotationsPrefix
	if err := prefix.Value.Set(DefaultAnnotationsPrefix); err != nil {
		t.Fatal(err)
	}
	verbosity := goflag.NewFlagSet("", goflag.ContinueOnError)
	verbosity.String("v", "0", "")
	flags.AddGoFlagSet(verbosity)
	if err := flags.Parse(args); err != nil {
		return flagsRead{prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}, false
	}
	get := func(name, def string) string {
		if !flags.Changed(name) {
			return def
		}
		return flags.Lookup(name).Value.String()
	}
	return flagsRead{
		withoutClass:    get("watch-ingress-without-class", "false") == "true",
		byName:          get("ingress-class-by-name", "false") == "true",
		prefix:          get("annotations-prefix", DefaultAnnotationsPrefix),
		ingressClass:    get("ingress-class", DefaultIngressClass),
		controllerClass: get("controller-class", DefaultControllerClass),
	}, true
}

// flagsRead is what meshkeeper reads of the controller's flags.
type flagsRead struct {
	withoutClass, byName                  bool
	prefix, ingressClass, controllerClass string
}

// meshkeeperRead is what meshkeeper's readers (boolFlag, stringFlag) read of args.
func meshkeeperRead(args []string) flagsRead {
	return flagsRead{
		withoutClass:    boolFlag(args, FlagWatchIngressWithoutClass),
		byName:          boolFlag(args, FlagIngressClassByName),
		prefix:          stringFlag(args, FlagAnnotationsPrefix, DefaultAnnotationsPrefix),
		ingressClass:    stringFlag(args, FlagIngressClass, DefaultIngressClass),
		controllerClass: stringFlag(args, FlagControllerClass, DefaultControllerClass),
	}
}

// meshkeeper reads the controller's flags as its pflag parses them: a flag without "=" that takes a
// value takes the next argument, whatever it is, a "--" among them; a "--" ends the flags only where it
// is no flag's value. Each case is parsed by pflag itself too, which gives the answer.
func TestControllerFlagsAsPflagReadsThem(t *testing.T) {
	tests := map[string]struct {
		args []string
		want flagsRead
	}{
		"-- as the value of a string flag, then a bool flag": {
			args: []string{"--annotations-prefix", "--", "--watch-ingress-without-class"},
			want: flagsRead{withoutClass: true, prefix: "--", ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"-- as the value of another string flag": {
			args: []string{"--configmap", "--", "--ingress-class-by-name", "--ingress-class=internal"},
			want: flagsRead{byName: true, prefix: DefaultAnnotationsPrefix, ingressClass: "internal", controllerClass: DefaultControllerClass}},
		"-- as the value of -v": {
			args: []string{"-v", "--", "--annotations-prefix=custom.example.com"},
			want: flagsRead{prefix: "custom.example.com", ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"a flag as the value of another": {
			args: []string{"--election-id", "--watch-ingress-without-class", "--controller-class", "--ingress-class=x"},
			want: flagsRead{prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: "--ingress-class=x"}},
		"a bool flag takes no value, so -- after it ends the flags": {
			args: []string{"--update-status", "--", "--watch-ingress-without-class"},
			want: flagsRead{prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"a klog bool flag takes no value": {
			args: []string{"--logtostderr", "--ingress-class-by-name"},
			want: flagsRead{byName: true, prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"-- after a string flag's =value ends the flags": {
			args: []string{"--configmap=x", "--", "--watch-ingress-without-class"},
			want: flagsRead{prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"positional arguments between flags": {
			args: []string{"run", "--watch-ingress-without-class", "-", "--ingress-class", "internal"},
			want: flagsRead{withoutClass: true, prefix: DefaultAnnotationsPrefix, ingressClass: "internal", controllerClass: DefaultControllerClass}},
		"-v with its value attached": {
			args: []string{"-v2", "--watch-ingress-without-class", "-v=3", "--ingress-class-by-name"},
			want: flagsRead{withoutClass: true, byName: true, prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"a string flag without a value, last: refused": {
			args: []string{"--watch-ingress-without-class", "--ingress-class"},
			want: flagsRead{prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"a bool flag pflag refuses the value of: refused": {
			args: []string{"--watch-ingress-without-class", "--ingress-class-by-name=yes"},
			want: flagsRead{prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"an unknown shorthand: refused": {
			args: []string{"--watch-ingress-without-class", "-x"},
			want: flagsRead{prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"---: refused": {
			args: []string{"--watch-ingress-without-class", "---ingress-class=x"},
			want: flagsRead{prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
		"--help: refused": {
			args: []string{"--watch-ingress-without-class", "--help"},
			want: flagsRead{prefix: DefaultAnnotationsPrefix, ingressClass: DefaultIngressClass, controllerClass: DefaultControllerClass}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if want, _ := pflagRead(t, tc.args); want != tc.want {
				t.Fatalf("pflag reads %q as %+v, the case says %+v", tc.args, want, tc.want)
			}
			if got := meshkeeperRead(tc.args); got != tc.want {
				t.Errorf("meshkeeper reads %q as %+v, pflag as %+v", tc.args, got, tc.want)
			}
		})
	}
}

// Every command line of up to four arguments drawn from a set of the arguments that matter (flags with
// and without values, "--", "-v", positional ones) is read as pflag reads it.
func TestControllerFlagsAsPflagReadsEveryShortCommandLine(t *testing.T) {
	words := []string{"--", "--annotations-prefix", "--ingress-class", "--watch-ingress-without-class",
		"--watch-ingress-without-class=false", "--ingress-class-by-name", "--configmap", "--update-status", "-v",
		"-v=2", "x.example.com", "--ingress-class=internal", "-"}
	count, refused := 0, 0
	var walk func(args []string)
	walk = func(args []string) {
		count++
		want, ok := pflagRead(t, args)
		if !ok {
			refused++
		}
		if got := meshkeeperRead(args); got != want {
			t.Fatalf("meshkeeper reads %q as %+v, pflag as %+v", args, got, want)
		}
		if len(args) == 4 {
			return
		}
		for _, w := range words {
			walk(append(args[:len(args):len(args)], w))
		}
	}
	walk(nil)
	// The walk met command lines pflag refuses and ones it reads.
	if refused == 0 || refused == count {
		t.Fatalf("%d of %d command lines refused", refused, count)
	}
}

// controllerBoolFlags holds every bool flag of klog's, which the controller parses with its own, and
// no other flag of klog's: klog's -v takes a value.
func TestControllerBoolFlagsHoldKlogs(t *testing.T) {
	flags := goflag.NewFlagSet("", goflag.ContinueOnError)
	klog.InitFlags(flags)
	flags.VisitAll(func(f *goflag.Flag) {
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		if isBool := ok && b.IsBoolFlag(); isBool != controllerBoolFlags.Has(f.Name) {
			t.Errorf("klog's flag %s is bool: %v; among controllerBoolFlags: %v", f.Name, isBool, !isBool)
		}
	})
}
