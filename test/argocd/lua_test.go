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

// Package argocd tests the Argo CD health check of the ServiceMesh under the same Lua engine and the
// same sandbox Argo CD runs it in, so a script that passes here behaves the same in argocd-cm.
//
// The runner below follows Argo CD's util/lua package (lua.go: VM.runLua, VM.ExecuteHealthLua,
// decodeValue; oslib_safe.go) step by step, and gitops-engine's HealthStatus of Argo CD 3.6, which
// added deletionMessage. Argo CD's own module cannot run the check here, not even in a test module of
// its own: argo-cd/v3 v3.6.x (and its gitops-engine/v3) need Go 1.27; v3.4 and v3.5 require
// github.com/argoproj/argo-cd/gitops-engine at a pseudo-version that exists only through their own
// replace of a directory, which no module proxy serves; and v3.3 predates deletionMessage.
package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// healthStatus is gitops-engine's health.HealthStatus: what Argo CD decodes the script's table into.
// Since Argo CD 3.6 a check may set deletionMessage for an object being deleted; Argo CD then shows
// the returned status with that message.
type healthStatus struct {
	Status          string `json:"status,omitempty"`
	Message         string `json:"message,omitempty"`
	DeletionMessage string `json:"deletionMessage,omitempty"`
}

// validHealthStatuses are the codes Argo CD accepts from a script (isValidHealthStatusCode); any
// other becomes Unknown.
var validHealthStatuses = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

// Argo CD's messages for a script whose result it cannot use.
const (
	incorrectReturnType = "expect %s output from Lua script, not %s"
	invalidHealthStatus = "Lua returned an invalid health status"
)

// scriptTimeout is the deadline Argo CD puts on every script run.
const scriptTimeout = time.Second

// vm is Argo CD's lua.VM. useOpenLibs is false for a script from argocd-cm unless the admin sets
// resource.customizations.useOpenLibs.<group>_<kind>, and true for the scripts built into Argo CD
// and in Argo CD's own tests of them: the check must work without the standard libraries.
type vm struct {
	useOpenLibs bool
}

// executeHealthLua is ExecuteHealthLua: run the script with the object as the global obj, take the
// value left on top of the stack (the chunk's return value), and decode it the way Argo CD does:
// Lua table to JSON to HealthStatus.
func (v vm) executeHealthLua(obj map[string]any, script string) (*healthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !v.useOpenLibs})
	defer l.Close()
	if err := v.run(l, obj, script); err != nil {
		return nil, err
	}
	returnValue := l.Get(-1)
	switch returnValue.Type() {
	case lua.LTTable:
		jsonBytes, err := encodeJSON(returnValue)
		if err != nil {
			return nil, err
		}
		status := &healthStatus{}
		if err := json.Unmarshal(jsonBytes, status); err != nil {
			// An empty table encodes as [], which Argo CD takes as an empty status.
			typeError := &json.UnmarshalTypeError{Value: "array", Type: reflect.TypeFor[*healthStatus]()}
			if errors.As(err, &typeError) {
				return &healthStatus{}, nil
			}
			return nil, err
		}
		if !validHealthStatuses[status.Status] {
			return &healthStatus{Status: "Unknown", Message: invalidHealthStatus}, nil
		}
		return status, nil
	case lua.LTNil:
		return &healthStatus{}, nil
	}
	return nil, fmt.Errorf(incorrectReturnType, "table", returnValue.Type().String())
}

// run is runLua: the libraries Argo CD opens, its safe os module, the deadline, obj, then the chunk.
func (v vm) run(l *lua.LState, obj map[string]any, script string) error {
	// Argo CD opens these on top of whatever NewState opened; with SkipOpenLibs they are all a
	// script has: no string, math, io or debug library.
	for _, pair := range []struct {
		n string
		f lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(pair.f), NRet: 0, Protect: true}, lua.LString(pair.n)); err != nil {
			return err
		}
	}
	l.PreloadModule(lua.OsLibName, safeOsLoader)

	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	l.SetContext(ctx)

	// Resource actions get their parameters as a global; health scripts see it empty.
	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", decodeValue(l, obj))

	fn, err := l.LoadString(script)
	if err == nil {
		l.Push(fn)
		err = l.PCall(0, lua.MultRet, nil)
	}
	var apiErr *lua.ApiError
	if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
		apiErr.StackTrace = ""
		return apiErr
	}
	return err
}

// openSafeOs is Argo CD's OpenSafeOs. It registers the safe functions under the table library's
// name, which is already loaded by then, so it adds nothing: a script in argocd-cm has no global os
// and reaches os.time and os.date only through require("os"). Kept as Argo CD has it so the checks
// here see the same names a script sees there.
func openSafeOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.TabLibName, safeOsFuncs))
	return 1
}

// safeOsLoader is Argo CD's SafeOsLoader, the require("os") module.
func safeOsLoader(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), safeOsFuncs))
	return 1
}

// safeOsFuncs are os.time and os.date, which Argo CD copied from gopher-lua's os library; they are
// taken from there.
var safeOsFuncs = func() map[string]lua.LGFunction {
	l := lua.NewState()
	defer l.Close()
	os := l.GetGlobal(lua.OsLibName).(*lua.LTable)
	return map[string]lua.LGFunction{
		"time": os.RawGetString("time").(*lua.LFunction).GFunction,
		"date": os.RawGetString("date").(*lua.LFunction).GFunction,
	}
}()

// decodeValue is Argo CD's conversion of the unstructured object into Lua: maps become tables with
// string keys, lists become sequences, every kind of number a Lua number (integers arrive as int64
// from the API server's JSON and as float64 from sigs.k8s.io/yaml), json.Number a string, and
// anything else nil.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case json.Number:
		return lua.LString(converted)
	case int:
		return lua.LNumber(converted)
	case int32:
		return lua.LNumber(converted)
	case int64:
		return lua.LNumber(converted)
	case []any:
		arr := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	case nil:
		return lua.LNil
	}
	return lua.LNil
}

// encodeJSON is the JSON encoding Argo CD applies to the returned table: layeh.com/gopher-json's
// Encode at the version Argo CD pins (97fed8db8427). An empty table is [], a table whose first key is
// a number must be the sequence 1, 2, 3… and is an array, one whose first key is a string must have
// only string keys and is an object; functions and other Lua values cannot be encoded.
func encodeJSON(value lua.LValue) ([]byte, error) {
	return json.Marshal(jsonValue{LValue: value, visited: map[*lua.LTable]bool{}})
}

type jsonValue struct {
	lua.LValue
	visited map[*lua.LTable]bool
}

func (j jsonValue) MarshalJSON() ([]byte, error) {
	switch converted := j.LValue.(type) {
	case lua.LBool:
		return json.Marshal(bool(converted))
	case lua.LNumber:
		return json.Marshal(float64(converted))
	case *lua.LNilType:
		return []byte(`null`), nil
	case lua.LString:
		return json.Marshal(string(converted))
	case *lua.LTable:
		if j.visited[converted] {
			return nil, errors.New("cannot encode recursively nested tables to JSON")
		}
		j.visited[converted] = true
		key, value := converted.Next(lua.LNil)
		switch key.Type() {
		case lua.LTNil:
			return []byte(`[]`), nil
		case lua.LTNumber:
			arr := make([]jsonValue, 0, converted.Len())
			for expected := lua.LNumber(1); key != lua.LNil; expected++ {
				if key.Type() != lua.LTNumber {
					return nil, errInvalidKeys
				}
				if key != expected {
					return nil, errors.New("cannot encode sparse array")
				}
				arr = append(arr, jsonValue{value, j.visited})
				key, value = converted.Next(key)
			}
			return json.Marshal(arr)
		case lua.LTString:
			obj := map[string]jsonValue{}
			for key != lua.LNil {
				if key.Type() != lua.LTString {
					return nil, errInvalidKeys
				}
				obj[key.String()] = jsonValue{value, j.visited}
				key, value = converted.Next(key)
			}
			return json.Marshal(obj)
		}
		return nil, errInvalidKeys
	}
	return nil, fmt.Errorf("cannot encode %s to JSON", j.Type())
}

var errInvalidKeys = errors.New("cannot encode mixed or invalid key types")
