// Package frenchtest finds English in a French report. It reads, from the
// Go source of the connectors and the engine, the English wordings they
// write into what a report prints (findings' summaries and manual steps,
// reasons, facts, a change's before and after, a check's words, errors,
// deviations), each as a fmt format, so that a test can hold the French
// rendering to every one of them: a wording added without its French
// fails the tests that use it. It follows a text through variables,
// parameters, the package's own functions and concatenations; a text
// the code computes otherwise (a table it indexes, another package's
// function) is a value to it.
package frenchtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Wording is one English phrase the code writes for a report, as a fmt
// format: each %s, %d, %q... stands for what the code computes there (a
// value of the estate, or a phrase of its own read elsewhere).
type Wording struct {
	Pos    string // file:line of the expression
	Sink   string // the field or variable written, e.g. Summary, manual
	Format string
}

// sinkFields are the fields (of a composite literal or assigned to) whose
// text a report prints; sinkVars the local variables that hold such a
// text; appendSinks the slices whose elements it prints.
var (
	sinkFields = []string{"summary", "manual", "before", "after", "what", "detail", "reasons", "error", "text", "method", "via"}
	sinkVars   = []string{"summary", "manual"}
	// phraseTypes are the types whose constants are phrases a report
	// prints (the dns connector's roles).
	phraseTypes = []string{"Role"}
	appendSinks = []string{"why", "reasons", "what", "about", "descr", "via", "adminvia", "residual", "problems", "because"}
)

// Wordings reads the wordings of the Go packages in dirs (their non-test
// files), each with where it is written; those with no word at all (a
// value, "%s: %s") are left out.
func Wordings(dirs ...string) ([]Wording, error) {
	var out []Wording
	seen := map[string]bool{}
	for _, dir := range dirs {
		p, err := loadPackage(dir)
		if err != nil {
			return nil, err
		}
		for _, w := range p.wordings() {
			english := hasWords(w.Format)
			if w.Sink == factName || w.Sink == factValue {
				english = len(EnglishWords(verbRE.ReplaceAllString(w.Format, " "))) > 0
			}
			if !seen[w.Format] && english {
				seen[w.Format] = true
				out = append(out, w)
			}
		}
	}
	return out, nil
}

// Dirs lists the directories of the Go packages under root, skipping
// testdata.
func Dirs(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			if dir := filepath.Dir(path); !slices.Contains(out, dir) {
				out = append(out, dir)
			}
		}
		return nil
	})
	return out, err
}

// pkg is one package's syntax and what the walk needs of it.
type pkg struct {
	fset    *token.FileSet
	funcs   map[string][]*ast.FuncDecl
	structs map[string][]string // a struct type's field names, in order
	consts  map[string]ast.Expr // package-level string constants and variables
	phrases []ast.Expr          // constants of the phrase types
	files   []*ast.File
}

func loadPackage(dir string) (*pkg, error) {
	p := &pkg{fset: token.NewFileSet(), funcs: map[string][]*ast.FuncDecl{}, structs: map[string][]string{}, consts: map[string]ast.Expr{}}
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(p.fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		p.files = append(p.files, f)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				p.funcs[d.Name.Name] = append(p.funcs[d.Name.Name], d)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if st, ok := s.Type.(*ast.StructType); ok {
							var fields []string
							for _, fl := range st.Fields.List {
								for _, n := range fl.Names {
									fields = append(fields, n.Name)
								}
								if len(fl.Names) == 0 {
									fields = append(fields, "")
								}
							}
							p.structs[s.Name.Name] = fields
						}
					case *ast.ValueSpec:
						if t, ok := s.Type.(*ast.Ident); ok && slices.Contains(phraseTypes, t.Name) {
							p.phrases = append(p.phrases, s.Values...)
						}
						for i, n := range s.Names {
							if i < len(s.Values) {
								p.consts[n.Name] = s.Values[i]
							}
						}
					}
				}
			}
		}
	}
	return p, nil
}

// fn is a function being read: its declaration, with the parent of each
// node for telling exclusive branches apart.
type fn struct {
	decl    *ast.FuncDecl
	parents map[ast.Node]ast.Node
	// diagnostics: the function's errors are a playbook's diagnostics
	// or a command's, never printed in a report (see pkg.diagnostics,
	// commandFiles).
	diagnostics bool
}

// walker reads values into formats, with a bound on how deep it follows
// variables, parameters and calls.
type walker struct {
	p     *pkg
	fns   map[*ast.FuncDecl]*fn
	busy  map[string]bool
	bound []frame // the calls whose callee is being read, innermost last
	out   []Wording
}

// frame is a call being followed into its callee: the callee's
// parameters are the call's arguments, read in the caller.
type frame struct {
	callee, caller *fn
	args           []ast.Expr
}

func (p *pkg) wordings() []Wording {
	w := &walker{p: p, fns: map[*ast.FuncDecl]*fn{}, busy: map[string]bool{}}
	diag := p.diagnostics()
	for _, e := range p.phrases {
		w.add("phrase", e, w.values(nil, e, 0))
	}
	for _, file := range p.files {
		for _, d := range file.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Body == nil {
					continue
				}
				f := w.fn(d)
				f.diagnostics = diag[d.Name.Name] || p.commandFile(d)
				if isErrorMethod(d) && !f.diagnostics {
					// An error type's message: what it returns.
					ast.Inspect(d.Body, func(n ast.Node) bool {
						if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
							w.add(ErrorSink, r.Results[0], w.values(f, r.Results[0], 0))
						}
						return true
					})
				}
				ast.Inspect(d.Body, func(n ast.Node) bool {
					w.sinks(f, n)
					return true
				})
			case *ast.GenDecl:
				// Package-level tables.
				ast.Inspect(d, func(n ast.Node) bool {
					w.sinks(nil, n)
					return true
				})
			}
		}
	}
	return w.out
}

func (w *walker) fn(d *ast.FuncDecl) *fn {
	if f, ok := w.fns[d]; ok {
		return f
	}
	f := &fn{decl: d, parents: map[ast.Node]ast.Node{}}
	var stack []ast.Node
	ast.Inspect(d, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if len(stack) > 0 {
			f.parents[n] = stack[len(stack)-1]
		}
		stack = append(stack, n)
		return true
	})
	w.fns[d] = f
	return f
}

func (w *walker) add(sink string, at ast.Node, formats []string) {
	pos := w.p.fset.Position(at.Pos())
	for _, f := range formats {
		f = strings.ReplaceAll(f, selfMark, "%s")
		w.out = append(w.out, Wording{Pos: fmt.Sprintf("%s:%d", filepath.ToSlash(pos.Filename), pos.Line), Sink: sink, Format: f})
	}
}

func isSink(name string, list []string) bool {
	return slices.Contains(list, strings.ToLower(name))
}

// sinks records the wordings node n writes to a report's field.
func (w *walker) sinks(f *fn, n ast.Node) {
	switch n := n.(type) {
	case *ast.CompositeLit:
		var fields []string
		if id, ok := n.Type.(*ast.Ident); ok {
			fields = w.p.structs[id.Name]
		}
		if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Fact" {
			for _, e := range n.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					switch k, _ := kv.Key.(*ast.Ident); {
					case k != nil && k.Name == "Name":
						w.add(factName, kv.Value, w.values(f, kv.Value, 0))
					case k != nil && k.Name == "Value":
						w.add(factValue, kv.Value, w.values(f, kv.Value, 0))
					}
				}
			}
			return
		}
		for i, e := range n.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok && isSink(k.Name, sinkFields) {
					w.add(k.Name, kv.Value, w.values(f, kv.Value, 0))
				}
				continue
			}
			if i < len(fields) && isSink(fields[i], sinkFields) {
				w.add(fields[i], e, w.values(f, e, 0))
			}
		}
	case *ast.AssignStmt:
		if len(n.Rhs) != len(n.Lhs) {
			return
		}
		for i, l := range n.Lhs {
			switch l := l.(type) {
			case *ast.SelectorExpr:
				if !isSink(l.Sel.Name, sinkFields) {
					continue
				}
				vs := w.values(f, n.Rhs[i], 0)
				if n.Tok == token.ADD_ASSIGN {
					vs = join(w.fieldBases(f, l), vs)
				}
				w.add(l.Sel.Name, n.Rhs[i], vs)
			case *ast.Ident:
				if isSink(l.Name, sinkVars) && n.Tok != token.ADD_ASSIGN && f != nil {
					w.add(l.Name, n.Rhs[i], w.ident(f, l.Name, 0))
				}
			}
		}
	case *ast.CallExpr:
		// An error the code makes: it may be printed as a system's or an
		// action's error, a check's detail, a deviation.
		if isErrorCall(n) && f != nil && !f.diagnostics {
			w.add(ErrorSink, n, w.errorFormats(f, n))
		}
		// A system's fact: fact(name, value), r.fact(name, value).
		if name := callName(n); name == "fact" && len(n.Args) >= 2 {
			w.add(factName, n.Args[0], w.values(f, n.Args[0], 0))
			w.add(factValue, n.Args[1], w.values(f, n.Args[1], 0))
		}
		if id, ok := n.Fun.(*ast.Ident); ok && isAppend(id.Name) && len(n.Args) > 1 {
			if name := rootName(n.Args[0]); isSink(name, appendSinks) {
				for _, a := range n.Args[1:] {
					w.add(name, a, w.values(f, a, 0))
				}
			}
		}
	}
}

// fieldBases are the values a field (x.Summary) is given in f before
// something is appended to it: assigned, or set in x's composite literal.
func (w *walker) fieldBases(f *fn, sel *ast.SelectorExpr) []string {
	root, ok := sel.X.(*ast.Ident)
	if !ok || f == nil {
		return []string{"%s"}
	}
	var out []string
	ast.Inspect(f.decl.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || as.Tok == token.ADD_ASSIGN || len(as.Lhs) != len(as.Rhs) {
			return true
		}
		for i, l := range as.Lhs {
			switch l := l.(type) {
			case *ast.SelectorExpr:
				if x, ok := l.X.(*ast.Ident); ok && x.Name == root.Name && l.Sel.Name == sel.Sel.Name {
					out = append(out, w.values(f, as.Rhs[i], 0)...)
				}
			case *ast.Ident:
				if l.Name != root.Name {
					continue
				}
				if cl, ok := as.Rhs[i].(*ast.CompositeLit); ok {
					for _, e := range cl.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == sel.Sel.Name {
								out = append(out, w.values(f, kv.Value, 0)...)
							}
						}
					}
				}
			}
		}
		return true
	})
	if len(out) == 0 {
		return []string{"%s"}
	}
	return dedupe(out)
}

// The sinks of a system's facts: their names and values are mostly the
// estate's or settings' own (ssl, protocols); only those with words only
// English uses are wordings to translate.
const (
	factName  = "fact name"
	factValue = "fact value"
)

// callName is the name of the function or method a call calls.
func callName(c *ast.CallExpr) string {
	switch fun := c.Fun.(type) {
	case *ast.Ident:
		return fun.Name
	case *ast.SelectorExpr:
		return fun.Sel.Name
	}
	return ""
}

// isAppend reports whether a function appends its other arguments to its
// first: append, or a helper of the package's named so (appendNew).
func isAppend(name string) bool {
	return name == "append" || strings.HasPrefix(name, "append") && len(name) > len("append") && name[len("append")] >= 'A' && name[len("append")] <= 'Z'
}

// rootName is the name of the variable or field an expression reads:
// why, fd.Reasons, out[name].
func rootName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.IndexExpr:
		return rootName(e.X)
	}
	return ""
}

const maxFormats = 32

var verbRE = regexp.MustCompile(`%(?:\[\d+\])?[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]`)

// values are the formats an expression may take; "%s" for what the code
// computes.
func (w *walker) values(f *fn, e ast.Expr, depth int) []string {
	if depth > 8 {
		return []string{"%s"}
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return []string{"%v"}
		}
		s, err := strconv.Unquote(e.Value)
		if err != nil {
			return []string{"%s"}
		}
		return []string{strings.ReplaceAll(s, "%", "%%")}
	case *ast.ParenExpr:
		return w.values(f, e.X, depth)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return []string{"%v"}
		}
		return join(w.values(f, e.X, depth+1), w.values(f, e.Y, depth+1))
	case *ast.Ident:
		return w.ident(f, e.Name, depth+1)
	case *ast.CallExpr:
		return w.call(f, e, depth+1)
	case *ast.CompositeLit:
		// A []string of phrases: each is a wording of its own.
		for _, el := range e.Elts {
			if _, kv := el.(*ast.KeyValueExpr); !kv {
				w.add("element", el, w.values(f, el, depth+1))
			}
		}
		return nil
	}
	return []string{"%s"}
}

// join is every concatenation of a format of as with one of bs.
func join(as, bs []string) []string {
	var out []string
	for _, a := range as {
		for _, b := range bs {
			if len(out) < maxFormats {
				out = append(out, a+b)
			}
		}
	}
	return out
}

func (w *walker) call(f *fn, c *ast.CallExpr, depth int) []string {
	switch fun := c.Fun.(type) {
	case *ast.SelectorExpr:
		if x, ok := fun.X.(*ast.Ident); ok {
			switch x.Name + "." + fun.Sel.Name {
			case "fmt.Sprintf", "fmt.Errorf":
				if len(c.Args) > 0 {
					return w.sprintf(f, c.Args[0], c.Args[1:], depth)
				}
			case "errors.New":
				if len(c.Args) == 1 {
					return w.values(f, c.Args[0], depth)
				}
			case "strings.Join":
				// Each element is a wording of its own; the list, a value.
				w.elements(f, c.Args[0], depth)
				return []string{"%s"}
			case "strings.TrimSpace", "strings.TrimPrefix", "strings.TrimSuffix", "strings.TrimLeft", "strings.TrimRight", "strings.Trim":
				// The text itself, trimmed.
				return w.values(f, c.Args[0], depth)
			case "cmp.Or":
				var out []string
				for _, a := range c.Args {
					out = append(out, w.values(f, a, depth)...)
				}
				return dedupe(out)
			}
			if slices.Contains([]string{"strings", "strconv", "path", "filepath", "fmt", "time", "errors"}, x.Name) {
				return []string{"%s"}
			}
		}
		if fun.Sel.Name == "Error" || fun.Sel.Name == "String" {
			// An error's or a value's own words: not a phrase of this
			// package's to follow.
			return []string{"%s"}
		}
		return w.returns(f, fun.Sel.Name, c, depth)
	case *ast.Ident:
		return w.returns(f, fun.Name, c, depth)
	}
	return []string{"%s"}
}

// sprintf is the formats of a fmt.Sprintf call, each verb whose argument
// is (or holds) a phrase of the code's replaced by that phrase.
func (w *walker) sprintf(f *fn, format ast.Expr, args []ast.Expr, depth int) []string {
	var out []string
	for _, ft := range w.values(f, format, depth) {
		// The format's own text, not a phrase: its %% are verbs.
		ft = strings.ReplaceAll(ft, "%%", "%")
		results := []string{""}
		rest, i := ft, 0
		for {
			loc := verbRE.FindStringIndex(rest)
			if loc == nil {
				break
			}
			verb := rest[loc[0]:loc[1]]
			subs := []string{verb}
			if verb != "%%" {
				if i < len(args) && strings.ContainsAny(verb[len(verb)-1:], "sqv") {
					if vs := w.values(f, args[i], depth); len(vs) > 0 && !(len(vs) == 1 && vs[0] == "%s") {
						subs = nil
						for _, v := range vs {
							if strings.HasSuffix(verb, "q") {
								v = strconv.Quote(v)
							}
							subs = append(subs, v)
						}
					}
				}
				i++
			}
			results = join(join(results, []string{rest[:loc[0]]}), subs)
			rest = rest[loc[1]:]
		}
		out = append(out, join(results, []string{rest})...)
	}
	return dedupe(out)
}

// elements records the wordings a slice of phrases is built from.
func (w *walker) elements(f *fn, e ast.Expr, depth int) {
	id, ok := e.(*ast.Ident)
	if !ok || f == nil {
		return
	}
	key := fmt.Sprintf("elements:%p:%s", f.decl, id.Name)
	if w.busy[key] {
		return
	}
	w.busy[key] = true
	defer delete(w.busy, key)
	ast.Inspect(f.decl.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if li, ok := l.(*ast.Ident); ok && li.Name == id.Name && len(n.Rhs) == len(n.Lhs) {
					if cl, ok := n.Rhs[i].(*ast.CompositeLit); ok {
						for _, el := range cl.Elts {
							w.add(id.Name, el, w.values(f, el, depth))
						}
					}
				}
			}
		case *ast.CallExpr:
			if fi, ok := n.Fun.(*ast.Ident); ok && isAppend(fi.Name) && len(n.Args) > 1 && rootName(n.Args[0]) == id.Name {
				for _, a := range n.Args[1:] {
					w.add(id.Name, a, w.values(f, a, depth))
				}
			}
		}
		return true
	})
}

// returns are the formats a call to a function of the package returns,
// its parameters read as the call's arguments.
func (w *walker) returns(caller *fn, name string, c *ast.CallExpr, depth int) []string {
	key := "ret:" + name
	if w.busy[key] {
		return []string{"%s"}
	}
	w.busy[key] = true
	defer delete(w.busy, key)
	var out []string
	if caller != nil {
		// A function literal of the caller's, assigned to name.
		ast.Inspect(caller.decl.Body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
				return true
			}
			v, ok := as.Lhs[0].(*ast.Ident)
			lit, ok2 := as.Rhs[0].(*ast.FuncLit)
			if !ok || !ok2 || v.Name != name {
				return true
			}
			ast.Inspect(lit.Body, func(n ast.Node) bool {
				if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
					out = append(out, w.values(caller, r.Results[0], depth)...)
				}
				return true
			})
			return false
		})
	}
	for _, d := range w.p.funcs[name] {
		if d.Body == nil || d.Type.Results == nil || len(d.Type.Results.List) != 1 {
			continue
		}
		if t, ok := d.Type.Results.List[0].Type.(*ast.Ident); !ok || t.Name != "string" {
			continue
		}
		callee := w.fn(d)
		w.bound = append(w.bound, frame{callee: callee, caller: caller, args: c.Args})
		ast.Inspect(d.Body, func(n ast.Node) bool {
			if _, lit := n.(*ast.FuncLit); lit {
				return false
			}
			if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
				out = append(out, w.values(callee, r.Results[0], depth)...)
			}
			return true
		})
		w.bound = w.bound[:len(w.bound)-1]
	}
	if len(out) == 0 {
		return []string{"%s"}
	}
	return dedupe(out)
}

// step is one assignment to a variable: its formats, and whether it
// appends (+=) to what the variable held.
type step struct {
	node    ast.Node
	add     bool
	formats []string
}

// selfMark stands, in an assignment's formats, for what the variable held
// before it (x = "root " + x).
const selfMark = "\x00held\x00"

// self reports whether the step rewrites what the variable held.
func (s step) self() bool {
	return slices.ContainsFunc(s.formats, func(f string) bool { return strings.Contains(f, selfMark) })
}

// ident is the formats a variable may hold at its use: what it is set
// to, with what is appended to it after; a parameter's arguments; a
// package constant's value.
func (w *walker) ident(f *fn, name string, depth int) []string {
	if f == nil {
		return w.constant(name, depth)
	}
	key := fmt.Sprintf("%p:%s", f.decl, name)
	if w.busy[key] {
		// The variable read in its own assignment: what it held.
		return []string{selfMark}
	}
	w.busy[key] = true
	defer delete(w.busy, key)
	var steps []step
	ast.Inspect(f.decl.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				li, ok := l.(*ast.Ident)
				if !ok || li.Name != name {
					continue
				}
				if len(n.Rhs) != len(n.Lhs) {
					steps = append(steps, step{node: n, formats: []string{"%s"}})
					continue
				}
				steps = append(steps, step{node: n, add: n.Tok == token.ADD_ASSIGN, formats: w.values(f, n.Rhs[i], depth)})
			}
		case *ast.ValueSpec:
			for i, id := range n.Names {
				if id.Name != name {
					continue
				}
				switch {
				case i < len(n.Values):
					steps = append(steps, step{node: n, formats: w.values(f, n.Values[i], depth)})
				case len(n.Values) == 0:
					steps = append(steps, step{node: n, formats: []string{""}})
				default:
					steps = append(steps, step{node: n, formats: []string{"%s"}})
				}
			}
		case *ast.RangeStmt:
			for _, x := range []ast.Expr{n.Key, n.Value} {
				if id, ok := x.(*ast.Ident); ok && id.Name == name {
					steps = append(steps, step{node: n, formats: []string{"%s"}})
				}
			}
		}
		return true
	})
	if len(steps) == 0 {
		return w.param(f, name, depth)
	}
	// A function literal's parameter may share the name of a variable of
	// the function (after): what its calls pass counts too.
	out := w.litParams(f, name, depth)
	for i, b := range steps {
		if b.add || b.self() {
			continue
		}
		// What follows until the next fresh value: appends and rewrites
		// of the variable (x = "root " + x), each run or not.
		var mods []step
		for _, m := range steps[i+1:] {
			if !m.add && !m.self() {
				break
			}
			if !f.exclusive(b.node, m.node) && len(mods) < 5 {
				mods = append(mods, m)
			}
		}
		for set := 0; set < 1<<len(mods); set++ {
			vs, ok := b.formats, true
			var prev []step
			for k, m := range mods {
				if set&(1<<k) == 0 {
					continue
				}
				for _, p := range prev {
					ok = ok && !f.exclusive(p.node, m.node)
				}
				prev = append(prev, m)
				if m.add {
					vs = join(vs, m.formats)
					continue
				}
				var next []string
				for _, mf := range m.formats {
					for _, v := range vs {
						next = append(next, strings.ReplaceAll(mf, selfMark, v))
					}
				}
				vs = next
			}
			if ok {
				out = append(out, vs...)
			}
		}
	}
	return dedupe(out)
}

// param is the formats of a parameter: the argument of the call being
// followed, or else of every call to the function in the package.
func (w *walker) param(f *fn, name string, depth int) []string {
	if idx, ok := paramIndex(f.decl.Type, name); ok {
		for i := len(w.bound) - 1; i >= 0; i-- {
			fr := w.bound[i]
			if fr.callee != f {
				continue
			}
			if idx >= len(fr.args) || fr.caller == nil {
				return []string{"%s"}
			}
			saved := w.bound
			w.bound = w.bound[:i]
			vs := w.values(fr.caller, fr.args[idx], depth)
			w.bound = saved
			return vs
		}
		return w.callers(f.decl.Name.Name, nil, idx, depth)
	}
	if out := w.litParams(f, name, depth); len(out) > 0 {
		return out
	}
	return w.constant(name, depth)
}

// litParams is the formats of name as a parameter of a function literal
// assigned to a variable of f: the arguments of its calls in f.
func (w *walker) litParams(f *fn, name string, depth int) []string {
	var out []string
	ast.Inspect(f.decl.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
			return true
		}
		lit, ok := as.Rhs[0].(*ast.FuncLit)
		v, ok2 := as.Lhs[0].(*ast.Ident)
		if !ok || !ok2 {
			return true
		}
		if idx, ok := paramIndex(lit.Type, name); ok {
			out = append(out, w.callers(v.Name, f, idx, depth)...)
		}
		return true
	})
	return dedupe(out)
}

// callers is the formats of argument idx of every call to name: in the
// package, or in f only when f is given (a function literal's variable).
func (w *walker) callers(name string, f *fn, idx, depth int) []string {
	key := fmt.Sprintf("callers:%s:%d", name, idx)
	if w.busy[key] {
		return []string{"%s"}
	}
	w.busy[key] = true
	defer delete(w.busy, key)
	var out []string
	visit := func(caller *fn) {
		ast.Inspect(caller.decl.Body, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok || idx >= len(c.Args) {
				return true
			}
			called := ""
			switch fun := c.Fun.(type) {
			case *ast.Ident:
				called = fun.Name
			case *ast.SelectorExpr:
				if f == nil {
					called = fun.Sel.Name
				}
			}
			if called == name {
				out = append(out, w.values(caller, c.Args[idx], depth)...)
			}
			return true
		})
	}
	if f != nil {
		visit(f)
	} else {
		for _, file := range w.p.files {
			for _, d := range file.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
					visit(w.fn(fd))
				}
			}
		}
	}
	if len(out) == 0 {
		return []string{"%s"}
	}
	return dedupe(out)
}

func paramIndex(t *ast.FuncType, name string) (int, bool) {
	i := 0
	for _, fl := range t.Params.List {
		for _, n := range fl.Names {
			if n.Name == name {
				return i, true
			}
			i++
		}
		if len(fl.Names) == 0 {
			i++
		}
	}
	return 0, false
}

// constant is a package-level constant's or variable's formats.
func (w *walker) constant(name string, depth int) []string {
	if e, ok := w.p.consts[name]; ok {
		if _, lit := e.(*ast.BasicLit); lit {
			return w.values(nil, e, depth)
		}
	}
	return []string{"%s"}
}

// exclusive reports whether a and b are in different branches of one if
// or switch: never both run.
func (f *fn) exclusive(a, b ast.Node) bool {
	pathA := f.path(a)
	pathB := f.path(b)
	for i := 0; i+1 < len(pathA) && i+1 < len(pathB); i++ {
		if pathA[i] != pathB[i] {
			return false
		}
		ca, cb := pathA[i+1], pathB[i+1]
		if ca == cb {
			continue
		}
		switch pathA[i].(type) {
		case *ast.IfStmt:
			return true
		case *ast.BlockStmt:
			_, caseA := ca.(*ast.CaseClause)
			_, caseB := cb.(*ast.CaseClause)
			return caseA && caseB
		}
		return false
	}
	return false
}

// path is n's ancestors from the function down to n.
func (f *fn) path(n ast.Node) []ast.Node {
	var out []ast.Node
	for ; n != nil; n = f.parents[n] {
		out = append(out, n)
	}
	slices.Reverse(out)
	return out
}

func dedupe(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) > maxFormats {
		out = out[:maxFormats]
	}
	return out
}

// ErrorSink is the sink of the errors the code makes (fmt.Errorf,
// errors.New, an error type's Error method): a report prints them as a
// system's or an action's error, a check's detail, a deviation.
const ErrorSink = "error"

// isErrorCall reports whether c makes an error: fmt.Errorf or errors.New.
func isErrorCall(c *ast.CallExpr) bool {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && (x.Name == "fmt" && sel.Sel.Name == "Errorf" || x.Name == "errors" && sel.Sel.Name == "New")
}

// isErrorMethod reports whether d is an error type's Error method.
func isErrorMethod(d *ast.FuncDecl) bool {
	if d.Recv == nil || d.Name.Name != "Error" || d.Type.Params.NumFields() != 0 || d.Type.Results.NumFields() != 1 {
		return false
	}
	t, ok := d.Type.Results.List[0].Type.(*ast.Ident)
	return ok && t.Name == "string"
}

// diagnostics are the functions of a package whose errors can only ever
// be a playbook's diagnostics, which lint and plan print at the
// playbook's line and column, never a report: those given the
// playbook's decoder (*playbook.Decoder), and those only such functions
// call (a host pattern's expansion, an agent catalogue's checks). A
// function is known by its name; one the package never calls (another
// package's entry point) is not one of them.
func (p *pkg) diagnostics() map[string]bool {
	diag := map[string]bool{}
	users := map[string][]string{} // function name -> the functions naming it
	for _, file := range p.files {
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				// A package-level table naming a function: a use no
				// playbook reading makes.
				ast.Inspect(d, func(n ast.Node) bool {
					if id, ok := n.(*ast.Ident); ok && p.funcs[id.Name] != nil {
						users[id.Name] = append(users[id.Name], "")
					}
					return true
				})
				continue
			}
			if takesDecoder(fd) {
				diag[fd.Name.Name] = true
			}
			if fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && id.Name != fd.Name.Name && p.funcs[id.Name] != nil {
					users[id.Name] = append(users[id.Name], fd.Name.Name)
				}
				return true
			})
		}
	}
	for changed := true; changed; {
		changed = false
		for name, us := range users {
			if !diag[name] && !slices.ContainsFunc(us, func(u string) bool { return !diag[u] }) {
				diag[name], changed = true, true
			}
		}
	}
	// A function that also takes no decoder but shares a name with one
	// that does (a method) is judged by its own calls: by name, both are
	// kept only when every one of them takes the decoder.
	for name := range diag {
		for _, d := range p.funcs[name] {
			if !takesDecoder(d) && users[name] == nil {
				delete(diag, name)
			}
		}
	}
	return diag
}

// takesDecoder reports whether d is given a playbook's decoder.
func takesDecoder(d *ast.FuncDecl) bool {
	for _, fl := range d.Type.Params.List {
		if st, ok := fl.Type.(*ast.StarExpr); ok {
			if sel, ok := st.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Decoder" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "playbook" {
					return true
				}
			}
		}
	}
	return false
}

// commandFiles are the engine's files whose errors end a command that
// writes no report, printed on its standard error: export, receipt and
// import (handoff.go), attest (declared.go), --limit (limit.go), the
// state directory's lock (lock.go), check's baseline (baseline.go),
// opening the secret store (store.go, vault.go), dossier update
// (dossier.go).
var commandFiles = []string{"handoff.go", "declared.go", "limit.go", "lock.go", "baseline.go", "store.go", "vault.go", "dossier.go"}

// errorFormats are the formats of an error c makes: fmt.Errorf's format
// as it is written, each verb a value (the error it wraps, %w, a text to
// translate in its turn); errors.New's text.
func (w *walker) errorFormats(f *fn, c *ast.CallExpr) []string {
	if len(c.Args) == 0 {
		return nil
	}
	vs := w.values(f, c.Args[0], 0)
	if sel := c.Fun.(*ast.SelectorExpr); sel.Sel.Name == "Errorf" {
		for i, v := range vs {
			vs[i] = strings.ReplaceAll(v, "%%", "%")
		}
	}
	return vs
}

// commandFile reports whether d is in one of the engine's commandFiles.
func (p *pkg) commandFile(d *ast.FuncDecl) bool {
	pos := p.fset.Position(d.Pos())
	dir, err := filepath.Abs(filepath.Dir(pos.Filename))
	return err == nil && strings.HasSuffix(filepath.ToSlash(dir), "handover/engine") && slices.Contains(commandFiles, filepath.Base(pos.Filename))
}
