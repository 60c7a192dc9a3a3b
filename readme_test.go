package sluice_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// readmeImports maps the package names README snippets use to import paths;
// a snippet file imports those it mentions.
var readmeImports = map[string]string{
	"context":   "context",
	"errors":    "errors",
	"expvar":    "expvar",
	"slog":      "log/slog",
	"os":        "os",
	"json":      "encoding/json",
	"fmt":       "fmt",
	"http":      "net/http",
	"log":       "log",
	"time":      "time",
	"retry":     "github.com/sluicego/sluice/retry",
	"limit":     "github.com/sluicego/sluice/limit",
	"workqueue": "github.com/sluicego/sluice/workqueue",
	"fetch":     "github.com/sluicego/sluice/fetch",
	"stream":    "github.com/sluicego/sluice/stream",
	"websocket": "github.com/sluicego/sluice/stream/websocket",
	"sse":       "github.com/sluicego/sluice/stream/sse",
}

// readmeStubs declares what the snippets leave to the reader. Each snippet
// is the body of a function with the parameters ctx, shutdownCtx and host,
// returning error.
const readmeStubs = `package snippets

import (
	"context"

	"github.com/sluicego/sluice/stream/websocket"
	"github.com/sluicego/sluice/workqueue"
)

type Order struct{ ID int }

var (
	orders []Order
	urls   []string
)

func call(context.Context) ([]byte, error)         { return nil, nil }
func isAuthError(error) bool                        { return false }
func process(context.Context, Order) error          { return nil }
func record(workqueue.Result[Order])                {}
func use(string, []byte)                            {}
func handle(websocket.Message) error                { return nil }
`

var goFence = regexp.MustCompile("(?ms)^```go\n(.*?)^```")

// TestREADMESnippetsCompile builds every Go snippet of README.md, each as the
// body of a function in a package generated inside this module (so the
// module's own requirements are used and nothing is downloaded), and runs
// go vet on it.
func TestREADMESnippetsCompile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goFence.FindAllSubmatchIndex(readme, -1)
	if len(blocks) == 0 {
		t.Fatal("no ```go block in README.md")
	}

	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	// A leading underscore keeps the directory out of ./... patterns, so a
	// concurrent go build ./... or go vet ./... never sees it.
	dir := "_readme_snippets_" + hex.EncodeToString(suffix[:])
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})

	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stubs.go", readmeStubs)
	offsets := map[string]int{} // file name → README.md line minus generated line
	for i, b := range blocks {
		name := fmt.Sprintf("snippet%d.go", i+1)
		first := bytes.Count(readme[:b[2]], []byte("\n")) + 1 // README.md line of the snippet's first line
		src, header, err := snippetFile(i+1, string(readme[b[2]:b[3]]))
		if err != nil {
			t.Fatalf("README.md:%d: %v", first, err)
		}
		offsets[name] = first - header - 1
		write(name, src)
	}

	// go test puts its own GOROOT/bin first in PATH: this is the go command
	// that runs the test.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	cmd := exec.Command(goTool, "vet", "./"+dir)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("go vet of the README snippets failed: %v\n%s", err, readmeLines(out, offsets))
	}
}

// snippetFile returns a Go file whose function snippetN has the snippet as
// its body. Every variable the snippet declares at the top level of the body
// is marked used, before a final return or at the end, so that a snippet
// that stops where the reader would go on still compiles.
func snippetFile(n int, body string) (src string, header int, err error) {
	fn := fmt.Sprintf("func snippet%d(ctx, shutdownCtx context.Context, host string) error {\n", n)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", "package p\n"+fn+body+"}\n", parser.SkipObjectResolution)
	if err != nil {
		return "", 0, err
	}
	decl := f.Decls[0].(*ast.FuncDecl)
	var names []string
	seen := map[string]bool{}
	for _, st := range decl.Body.List {
		var idents []*ast.Ident
		switch s := st.(type) {
		case *ast.AssignStmt:
			if s.Tok == token.DEFINE {
				for _, e := range s.Lhs {
					if id, ok := e.(*ast.Ident); ok {
						idents = append(idents, id)
					}
				}
			}
		case *ast.DeclStmt:
			if g, ok := s.Decl.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, sp := range g.Specs {
					idents = append(idents, sp.(*ast.ValueSpec).Names...)
				}
			}
		}
		for _, id := range idents {
			if id.Name != "_" && !seen[id.Name] {
				seen[id.Name] = true
				names = append(names, id.Name)
			}
		}
	}
	var uses strings.Builder
	for _, name := range names {
		fmt.Fprintf(&uses, "\t_ = %s\n", name)
	}
	tail := uses.String() + "\treturn nil\n"
	if last := decl.Body.List; len(last) > 0 {
		if _, ok := last[len(last)-1].(*ast.ReturnStmt); ok {
			// The snippet returns: mark the variables used just before.
			ret := fset.Position(last[len(last)-1].Pos()).Offset - len("package p\n"+fn)
			body = body[:ret] + strings.TrimPrefix(uses.String(), "\t") + "\t" + body[ret:]
			tail = ""
		}
	}

	used := map[string]bool{"context": true}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && readmeImports[id.Name] != "" && !seen[id.Name] {
				used[id.Name] = true
			}
		}
		return true
	})
	var paths []string
	for name := range used {
		paths = append(paths, readmeImports[name])
	}
	sort.Strings(paths)

	var b strings.Builder
	fmt.Fprintf(&b, "// Code generated by TestREADMESnippetsCompile from README.md's snippet %d.\n\npackage snippets\n\nimport (\n", n)
	for _, p := range paths {
		fmt.Fprintf(&b, "\t%q\n", p)
	}
	b.WriteString(")\n\n" + fn)
	header = strings.Count(b.String(), "\n")
	b.WriteString(body + tail + "}\n")
	return b.String(), header, nil
}

// readmeLines rewrites each "snippetN.go:L" position in go vet's output as
// the README.md line it comes from.
func readmeLines(out []byte, offsets map[string]int) string {
	re := regexp.MustCompile(`\S*(snippet\d+\.go):(\d+)`)
	return re.ReplaceAllStringFunc(string(out), func(m string) string {
		sub := re.FindStringSubmatch(m)
		line, err := strconv.Atoi(sub[2])
		if err != nil {
			return m
		}
		return fmt.Sprintf("README.md:%d (%s:%d)", line+offsets[sub[1]], sub[1], line)
	})
}
