// tiltfile-lint executes a Tiltfile in a real Starlark interpreter with recording stand-ins for the Tilt built-ins
// it calls, and prints every call as JSON. It is a lint, not a Tilt run: nothing is built or deployed. What it
// proves is that the Tiltfile parses, runs to the end, calls only the built-ins listed here with parameter names
// Tilt accepts, and passes the values the caller's assertions then inspect (resources, port-forwards,
// dependencies, live-update steps).
//
// Usage: tiltfile-lint [-arg name=value ...] <Tiltfile>
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// call is one recorded built-in call.
type call struct {
	Fn     string         `json:"fn"`
	Args   map[string]any `json:"args"`
	Caller string         `json:"at"`
}

type recorder struct {
	calls   []call
	workdir string
}

// param lists the parameters of a Tilt built-in, in Tilt's order; a trailing "?" marks an optional one.
type builtinSpec struct {
	params []string
	// result makes the stand-in's return value from the bound arguments.
	result func(args map[string]starlark.Value) starlark.Value
}

func none(map[string]starlark.Value) starlark.Value { return starlark.None }

// tagged returns a struct standing for an opaque Tilt value (a live-update step, a port forward, a link).
func tagged(kind string) func(map[string]starlark.Value) starlark.Value {
	return func(args map[string]starlark.Value) starlark.Value {
		fields := starlark.StringDict{"kind": starlark.String(kind)}
		for name, value := range args {
			fields[name] = value
		}
		return starlarkstruct.FromStringDict(starlark.String(kind), fields)
	}
}

var tiltBuiltins = map[string]builtinSpec{
	"docker_build": {params: []string{"ref", "context", "build_args?", "dockerfile?", "dockerfile_contents?", "live_update?",
		"match_in_env_vars?", "ignore?", "only?", "entrypoint?", "target?", "ssh?", "network?", "secret?", "extra_tag?",
		"container_args?", "cache_from?", "pull?", "platform?", "env?"}, result: none},
	"k8s_yaml": {params: []string{"yaml", "allow_duplicates?"}, result: none},
	"helm": {params: []string{"paths", "name?", "namespace?", "values?", "set?", "kube_version?", "skip_crds?"},
		// The lint never renders charts (helm template does, in the chart tests): helm() returns a stand-in.
		result: tagged("helm")},
	"k8s_resource": {params: []string{"workload?", "new_name?", "port_forwards?", "extra_pod_selectors?", "trigger_mode?",
		"resource_deps?", "objects?", "auto_init?", "pod_readiness?", "links?", "labels?", "discovery_strategy?"},
		result: none},
	"local_resource": {params: []string{"name", "cmd?", "deps?", "trigger_mode?", "resource_deps?", "ignore?", "auto_init?",
		"serve_cmd?", "cmd_bat?", "serve_cmd_bat?", "allow_parallel?", "links?", "tags?", "env?", "serve_env?",
		"readiness_probe?", "dir?", "serve_dir?", "labels?"}, result: none},
	"sync":         {params: []string{"local_path", "remote_path"}, result: tagged("sync")},
	"run":          {params: []string{"cmd", "trigger?", "echo_off?"}, result: tagged("run")},
	"fall_back_on": {params: []string{"files"}, result: tagged("fall_back_on")},
	"initial_sync": {params: []string{}, result: tagged("initial_sync")},
	"port_forward": {params: []string{"local_port", "container_port?", "name?", "link_path?", "host?"}, result: tagged("port_forward")},
	"link":         {params: []string{"url", "name?"}, result: tagged("link")},
	"watch_file":   {params: []string{"file_path"}, result: none},
	// local() runs a command when Tilt loads the Tiltfile; the lint records it and runs nothing.
	"local": {params: []string{"command", "quiet?", "command_bat?", "echo_off?", "env?", "dir?"},
		result: func(map[string]starlark.Value) starlark.Value { return starlark.String("") }},
	"blob":               {params: []string{"contents"}, result: tagged("blob")},
	"allow_k8s_contexts": {params: []string{"contexts"}, result: none},
	"update_settings": {params: []string{"max_parallel_updates?", "k8s_upsert_timeout_secs?",
		"suppress_unused_image_warnings?"}, result: none},
}

func (r *recorder) builtin(name string, spec builtinSpec) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		values := make([]starlark.Value, len(spec.params))
		pairs := make([]any, 0, 2*len(spec.params))
		for i, param := range spec.params {
			pairs = append(pairs, param, &values[i])
		}
		// UnpackArgs rejects unknown keywords, missing required parameters and too many positionals, as Tilt does.
		if err := starlark.UnpackArgs(name, args, kwargs, pairs...); err != nil {
			return nil, err
		}
		bound := map[string]starlark.Value{}
		recorded := map[string]any{}
		for i, param := range spec.params {
			if values[i] == nil {
				continue
			}
			key := strings.TrimSuffix(param, "?")
			bound[key] = values[i]
			recorded[key] = toJSON(values[i])
		}
		r.calls = append(r.calls, call{Fn: name, Args: recorded, Caller: thread.CallFrame(1).Pos.String()})
		return spec.result(bound), nil
	})
}

// toJSON turns Starlark values into plain JSON values; structs keep their fields and their kind.
func toJSON(value starlark.Value) any {
	switch v := value.(type) {
	case starlark.NoneType:
		return nil
	case starlark.Bool:
		return bool(v)
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return i
		}
		return v.String()
	case starlark.Float:
		return float64(v)
	case starlark.String:
		return string(v)
	case *starlark.List:
		out := make([]any, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			out = append(out, toJSON(v.Index(i)))
		}
		return out
	case starlark.Tuple:
		out := make([]any, 0, len(v))
		for _, item := range v {
			out = append(out, toJSON(item))
		}
		return out
	case *starlark.Dict:
		out := map[string]any{}
		for _, item := range v.Items() {
			key, ok := item[0].(starlark.String)
			if !ok {
				key = starlark.String(item[0].String())
			}
			out[string(key)] = toJSON(item[1])
		}
		return out
	case *starlarkstruct.Struct:
		out := map[string]any{}
		for _, name := range v.AttrNames() {
			field, _ := v.Attr(name)
			out[name] = toJSON(field)
		}
		return out
	default:
		return value.String()
	}
}

// configModule stands in for Tilt's `config`: define_* record the flag, parse() returns the -arg values given.
func (r *recorder) configModule(given map[string]string) *starlarkstruct.Module {
	defined := map[string]string{}
	define := func(kind string) *starlark.Builtin {
		return starlark.NewBuiltin("config.define_"+kind, func(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var name string
			var positional bool
			var usage string
			if err := starlark.UnpackArgs(fn.Name(), args, kwargs, "name", &name, "args?", &positional, "usage?", &usage); err != nil {
				return nil, err
			}
			defined[name] = kind
			r.calls = append(r.calls, call{Fn: fn.Name(), Args: map[string]any{"name": name, "args": positional, "usage": usage},
				Caller: thread.CallFrame(1).Pos.String()})
			return starlark.None, nil
		})
	}
	parse := starlark.NewBuiltin("config.parse", func(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackArgs(fn.Name(), args, kwargs); err != nil {
			return nil, err
		}
		out := starlark.NewDict(len(given))
		for name, value := range given {
			kind, ok := defined[name]
			if !ok {
				return nil, fmt.Errorf("config.parse: -arg %s was not defined by the Tiltfile", name)
			}
			switch kind {
			case "string_list":
				items := []starlark.Value{}
				for _, item := range strings.Split(value, ",") {
					items = append(items, starlark.String(item))
				}
				_ = out.SetKey(starlark.String(name), starlark.NewList(items))
			case "bool":
				_ = out.SetKey(starlark.String(name), starlark.Bool(value == "true"))
			default:
				_ = out.SetKey(starlark.String(name), starlark.String(value))
			}
		}
		return out, nil
	})
	return &starlarkstruct.Module{Name: "config", Members: starlark.StringDict{
		"define_string_list": define("string_list"),
		"define_string":      define("string"),
		"define_bool":        define("bool"),
		"parse":              parse,
	}}
}

// osModule gives the Tiltfile os.getenv (from the lint's own environment) and os.path.exists (relative to the
// Tiltfile), the two it uses to find optional inputs.
func (r *recorder) osModule() *starlarkstruct.Module {
	getenv := starlark.NewBuiltin("os.getenv", func(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var key string
		var fallback starlark.Value = starlark.None
		if err := starlark.UnpackArgs(fn.Name(), args, kwargs, "key", &key, "default?", &fallback); err != nil {
			return nil, err
		}
		if value, ok := os.LookupEnv(key); ok {
			return starlark.String(value), nil
		}
		return fallback, nil
	})
	exists := starlark.NewBuiltin("os.path.exists", func(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var path string
		if err := starlark.UnpackArgs(fn.Name(), args, kwargs, "path", &path); err != nil {
			return nil, err
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(r.workdir, path)
		}
		_, err := os.Stat(path)
		return starlark.Bool(err == nil), nil
	})
	pathModule := &starlarkstruct.Module{Name: "os.path", Members: starlark.StringDict{"exists": exists}}
	return &starlarkstruct.Module{Name: "os", Members: starlark.StringDict{"getenv": getenv, "path": pathModule}}
}

type argFlags map[string]string

func (a argFlags) String() string { return fmt.Sprint(map[string]string(a)) }
func (a argFlags) Set(value string) error {
	name, val, ok := strings.Cut(value, "=")
	if !ok {
		return fmt.Errorf("-arg wants name=value, got %q", value)
	}
	a[name] = val
	return nil
}

func main() {
	args := argFlags{}
	flag.Var(args, "arg", "a Tiltfile config argument, name=value (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tiltfile-lint [-arg name=value ...] <Tiltfile>")
		os.Exit(2)
	}
	path, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r := &recorder{workdir: filepath.Dir(path)}
	predeclared := starlark.StringDict{
		"config":              r.configModule(args),
		"os":                  r.osModule(),
		"struct":              starlark.NewBuiltin("struct", starlarkstruct.Make),
		"TRIGGER_MODE_AUTO":   starlark.MakeInt(0),
		"TRIGGER_MODE_MANUAL": starlark.MakeInt(1),
	}
	names := make([]string, 0, len(tiltBuiltins))
	for name := range tiltBuiltins {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		predeclared[name] = r.builtin(name, tiltBuiltins[name])
	}
	thread := &starlark.Thread{
		Name:  "tiltfile",
		Print: func(_ *starlark.Thread, msg string) { fmt.Fprintln(os.Stderr, msg) },
		Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
			return nil, fmt.Errorf("load(%q): extensions are not available to the lint; keep the Tiltfile self-contained", module)
		},
	}
	// Tilt's dialect: top-level if/for, while loops, sets, reassigning globals.
	options := &syntax.FileOptions{TopLevelControl: true, While: true, Set: true, GlobalReassign: true}
	if _, err := starlark.ExecFileOptions(options, thread, path, nil, predeclared); err != nil {
		if evalErr, ok := err.(*starlark.EvalError); ok {
			fmt.Fprintln(os.Stderr, evalErr.Backtrace())
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(map[string]any{"calls": r.calls}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
