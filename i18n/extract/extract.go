// Package extract finds the messages of the code and the templates: the
// calls L.T("id", "English text", …), L.N("id", count, "one", "other", …)
// and i18n.Msg("id", "English text"), in Go files and in page templates
// ({{.L.T "id" "English text" …}}), and writes them as the source
// catalogue, i18n/locales/en.toml.
package extract

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// Entry is one message: its ID, its English text (One set for plural
// messages) and where it is used.
type Entry struct {
	ID         string
	One, Other string
	Where      []string
}

// Plural reports whether the message depends on a count.
func (e Entry) Plural() bool { return e.One != "" }

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Scan reads every non-test Go file and every .html template under root
// (testdata, docs and hidden directories aside) and returns the messages
// sorted by ID. The same ID with two different texts is an error, and so is
// a T or N call whose ID or text is not a literal outside package i18n.
func Scan(root string) ([]Entry, error) {
	entries := map[string]*Entry{}
	var errs []string
	add := func(e Entry, where string) {
		if !idPattern.MatchString(e.ID) {
			errs = append(errs, fmt.Sprintf("%s: message ID %q: use lowercase letters, digits and _", where, e.ID))
			return
		}
		if old, ok := entries[e.ID]; ok {
			if old.One != e.One || old.Other != e.Other {
				errs = append(errs, fmt.Sprintf("%s: message %s has another text at %s", where, e.ID, old.Where[0]))
				return
			}
			old.Where = append(old.Where, where)
			return
		}
		e.Where = []string{where}
		entries[e.ID] = &e
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "docs" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go"):
			return scanGo(path, rel, add, &errs)
		case strings.HasSuffix(name, ".html"):
			return scanTemplate(path, rel, add)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("extract:\n  %s", strings.Join(errs, "\n  "))
	}
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func scanGo(path, rel string, add func(Entry, string), errs *[]string) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	inI18n := f.Name.Name == "i18n" || f.Name.Name == "extract"
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		var fn string
		qualified := false
		switch f := call.Fun.(type) {
		case *ast.SelectorExpr:
			fn = f.Sel.Name
			x, ok := f.X.(*ast.Ident)
			qualified = ok && x.Name == "i18n"
		case *ast.Ident:
			fn = f.Name
			qualified = inI18n
		default:
			return true
		}
		where := fmt.Sprintf("%s:%d", rel, fset.Position(call.Pos()).Line)
		str := func(i int) (string, bool) {
			if i >= len(call.Args) {
				return "", false
			}
			bl, ok := call.Args[i].(*ast.BasicLit)
			if !ok || bl.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(bl.Value)
			return s, err == nil
		}
		switch fn {
		case "T":
			id, ok1 := str(0)
			text, ok2 := str(1)
			if ok1 && ok2 {
				add(Entry{ID: id, Other: text}, where)
			} else if !inI18n && len(call.Args) >= 2 && (ok1 || ok2) {
				*errs = append(*errs, where+": T needs a literal ID and English text")
			}
		case "N":
			id, ok1 := str(0)
			one, ok2 := str(2)
			other, ok3 := str(3)
			if ok1 && ok2 && ok3 {
				add(Entry{ID: id, One: one, Other: other}, where)
			} else if !inI18n && len(call.Args) >= 4 && (ok1 || ok2 || ok3) {
				*errs = append(*errs, where+": N needs a literal ID and English forms")
			}
		case "Msg":
			if qualified {
				id, ok1 := str(0)
				text, ok2 := str(1)
				if ok1 && ok2 {
					add(Entry{ID: id, Other: text}, where)
				}
			}
		}
		return true
	})
	return nil
}

func scanTemplate(path, rel string, add func(Entry, string)) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	t, err := template.New(filepath.Base(path)).Funcs(template.FuncMap{
		// Functions pages may add; their values do not matter here.
		"attr": func(string) string { return "" },
	}).Parse(string(b))
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		walk(tt.Tree.Root, func(cmd *parse.CommandNode) {
			name := lastIdent(cmd.Args[0])
			where := fmt.Sprintf("%s:%d", rel, lineOf(tt.Tree, cmd))
			str := func(i int) (string, bool) {
				if i >= len(cmd.Args) {
					return "", false
				}
				s, ok := cmd.Args[i].(*parse.StringNode)
				if !ok {
					return "", false
				}
				return s.Text, true
			}
			switch name {
			case "T":
				if id, ok := str(1); ok {
					if text, ok := str(2); ok {
						add(Entry{ID: id, Other: text}, where)
					}
				}
			case "N":
				id, ok1 := str(1)
				one, ok2 := str(3)
				other, ok3 := str(4)
				if ok1 && ok2 && ok3 {
					add(Entry{ID: id, One: one, Other: other}, where)
				}
			}
		})
	}
	return nil
}

func lineOf(tree *parse.Tree, n parse.Node) int {
	loc, _ := tree.ErrorContext(n)
	// loc is name:line:col
	parts := strings.Split(loc, ":")
	if len(parts) >= 3 {
		if l, err := strconv.Atoi(parts[len(parts)-2]); err == nil {
			return l
		}
	}
	return 0
}

func lastIdent(n parse.Node) string {
	switch n := n.(type) {
	case *parse.FieldNode:
		return n.Ident[len(n.Ident)-1]
	case *parse.VariableNode:
		return n.Ident[len(n.Ident)-1]
	case *parse.ChainNode:
		return n.Field[len(n.Field)-1]
	}
	return ""
}

func walk(n parse.Node, fn func(*parse.CommandNode)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, fn)
		}
	case *parse.ActionNode:
		walk(n.Pipe, fn)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, fn)
		}
	case *parse.CommandNode:
		if len(n.Args) > 0 {
			fn(n)
		}
		for _, a := range n.Args {
			walk(a, fn)
		}
	case *parse.IfNode:
		walk(n.Pipe, fn)
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.RangeNode:
		walk(n.Pipe, fn)
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.WithNode:
		walk(n.Pipe, fn)
		walk(n.List, fn)
		walk(n.ElseList, fn)
	case *parse.TemplateNode:
		walk(n.Pipe, fn)
	}
}

// TOML writes entries as a go-i18n TOML catalogue: plain messages first,
// then plural messages as tables, each with a comment saying where it is
// used.
func TOML(entries []Entry) []byte {
	var b bytes.Buffer
	b.WriteString("# The source catalogue: English, generated by `go run ./cmd/i18n-extract`\n" +
		"# from the code and the templates. Do not edit: change the text where it is\n" +
		"# used and run the command again. Translating: docs/translating.md.\n\n")
	for _, e := range entries {
		if e.Plural() {
			continue
		}
		writeWhere(&b, e)
		fmt.Fprintf(&b, "%s = %s\n\n", e.ID, Quote(e.Other))
	}
	for _, e := range entries {
		if !e.Plural() {
			continue
		}
		writeWhere(&b, e)
		fmt.Fprintf(&b, "[%s]\none = %s\nother = %s\n\n", e.ID, Quote(e.One), Quote(e.Other))
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// writeWhere comments a message with the files that use it: files, not
// lines, so that editing code around a message leaves en.toml as it is.
func writeWhere(b *bytes.Buffer, e Entry) {
	var files []string
	for _, w := range e.Where {
		f, _, _ := strings.Cut(w, ":")
		if !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	fmt.Fprintf(b, "# %s\n", strings.Join(files, ", "))
}

// Quote writes s as a TOML basic string.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
