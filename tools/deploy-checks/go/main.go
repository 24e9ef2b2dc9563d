// deploy-lint: the parts of the deploy checks that need the real libraries, not a re-implementation.
//
//	deploy-lint compose [--env-file <file>] <file> [<profile>...]
//	    Loads a Compose file the way `docker compose config` does (compose-go, the library Docker Compose
//	    itself uses: schema validation, interpolation, references between services, networks and volumes)
//	    and prints the normalised project as JSON. Variables come from the env file alone (as
//	    `docker compose --env-file`), never from the caller's environment.
//	deploy-lint rules <file>...
//	    Validates Prometheus rule files the way Prometheus loads them (rulefmt: YAML shape, expressions,
//	    durations, label and annotation templates) and prints every rule with its PromQL selectors as JSON.
//	deploy-lint promql
//	    Reads a JSON array of PromQL expressions on stdin; prints each one's selectors, or its parse error.
//	deploy-lint dockerfile <file>
//	    Parses a Dockerfile with BuildKit's own parser and linter (what `docker build` runs first) and
//	    prints its stages and commands, with every lint warning, as JSON.
//
// Exit status 1 and a message on stderr when a file does not load.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	dfparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

type matcher struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type selector struct {
	Metric   string    `json:"metric"`
	Matchers []matcher `json:"matchers"`
}

type expression struct {
	Expr      string     `json:"expr"`
	Error     string     `json:"error,omitempty"`
	Selectors []selector `json:"selectors"`
}

type rule struct {
	File        string            `json:"file"`
	Group       string            `json:"group"`
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	expression
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: deploy-lint compose <file> [<profile>...] | rules <file>... | promql")
	}
	switch os.Args[1] {
	case "compose":
		args := os.Args[2:]
		envFile := ""
		if len(args) >= 2 && args[0] == "--env-file" {
			envFile, args = args[1], args[2:]
		}
		if len(args) < 1 {
			fail("usage: deploy-lint compose [--env-file <file>] <file> [<profile>...]")
		}
		compose(args[0], args[1:], envFile)
	case "rules":
		rules(os.Args[2:])
	case "dockerfile":
		if len(os.Args) != 3 {
			fail("usage: deploy-lint dockerfile <file>")
		}
		dockerfile(os.Args[2])
	case "promql":
		var exprs []string
		if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
			fail("promql: stdin must be a JSON array of strings: %v", err)
		}
		out := make([]expression, 0, len(exprs))
		for _, e := range exprs {
			out = append(out, parse(e))
		}
		print(out)
	default:
		fail("unknown command %q", os.Args[1])
	}
}

func compose(file string, profiles []string, envFile string) {
	abs, err := filepath.Abs(file)
	if err != nil {
		fail("%v", err)
	}
	options := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithProfiles(profiles),
		// Only the file's own defaults and the env file: the result must not depend on the caller's
		// environment, nor on a developer's .env beside the Compose file.
		cli.WithEnv([]string{}),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
	}
	if envFile != "" {
		options = append(options, cli.WithEnvFiles(envFile), cli.WithDotEnv)
	}
	opts, err := cli.NewProjectOptions([]string{abs}, options...)
	if err != nil {
		fail("compose: %v", err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fail("compose: %v", err)
	}
	print(project)
}

func rules(files []string) {
	var out []rule
	var problems []string
	for _, file := range files {
		groups, errs := rulefmt.ParseFile(file, false, model.LegacyValidation)
		for _, err := range errs {
			problems = append(problems, err.Error())
		}
		if groups == nil {
			continue
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				item := rule{
					File:        file,
					Group:       g.Name,
					Alert:       r.Alert,
					Record:      r.Record,
					Labels:      r.Labels,
					Annotations: r.Annotations,
					expression:  parse(r.Expr),
				}
				if r.For != 0 {
					item.For = r.For.String()
				}
				out = append(out, item)
			}
		}
	}
	if len(problems) > 0 {
		fail("%s", strings.Join(problems, "\n"))
	}
	print(out)
}

type dockerCommand struct {
	Name string `json:"name"`
	Code string `json:"code"`
	Line int    `json:"line"`
}

type dockerStage struct {
	Name     string          `json:"name"`
	Base     string          `json:"base"`
	Commands []dockerCommand `json:"commands"`
}

func dockerfile(file string) {
	f, err := os.Open(file)
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	res, err := dfparser.Parse(f)
	if err != nil {
		fail("dockerfile: %v", err)
	}
	warnings := []string{}
	for _, w := range res.Warnings {
		warnings = append(warnings, w.Short)
	}
	lint := linter.New(&linter.Config{
		Warn: func(rule, _, _, message string, location []dfparser.Range) {
			line := 0
			if len(location) > 0 {
				line = location[0].Start.Line
			}
			warnings = append(warnings, fmt.Sprintf("line %d: %s: %s", line, rule, message))
		},
	})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		fail("dockerfile: %v", err)
	}
	out := struct {
		Args     []string      `json:"args"`
		Stages   []dockerStage `json:"stages"`
		Warnings []string      `json:"warnings"`
	}{Args: []string{}, Stages: []dockerStage{}, Warnings: warnings}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			out.Args = append(out.Args, kv.Key)
		}
	}
	for _, st := range stages {
		stage := dockerStage{Name: st.Name, Base: st.BaseName, Commands: []dockerCommand{}}
		for _, c := range st.Commands {
			line := 0
			if loc := c.Location(); len(loc) > 0 {
				line = loc[0].Start.Line
			}
			stage.Commands = append(stage.Commands, dockerCommand{Name: c.Name(), Code: fmt.Sprint(c), Line: line})
		}
		out.Stages = append(out.Stages, stage)
	}
	print(out)
}

// parse returns the expression's vector selectors: the metric each one names and its label matchers.
func parse(input string) expression {
	result := expression{Expr: input, Selectors: []selector{}}
	expr, err := parser.ParseExpr(input)
	if err != nil {
		result.Error = err.Error()
		return result
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := selector{Metric: vs.Name, Matchers: []matcher{}}
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				if s.Metric == "" && m.Type.String() == "=" {
					s.Metric = m.Value
				}
				continue
			}
			s.Matchers = append(s.Matchers, matcher{Name: m.Name, Type: m.Type.String(), Value: m.Value})
		}
		result.Selectors = append(result.Selectors, s)
		return nil
	})
	return result
}

func print(v any) {
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(v); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "deploy-lint: "+format+"\n", args...)
	os.Exit(1)
}
