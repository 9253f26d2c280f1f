package host_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadmeSnippet builds the Go snippet of README.md ("Use tipy from Go")
// as the main.go of a fresh module that requires tipy (replaced by this
// repository), runs it, and checks what it prints.
func TestReadmeSnippet(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot build the README snippet in a module of its own")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	snippet, err := extractSnippet(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	// The new module requires tipy, and every module tipy requires at
	// tipy's versions (so that no lookup is needed), with tipy's go.sum.
	mod := "module readme\n\n" + goLine(string(gomod)) + "\nrequire github.com/tipy/tipy v0.0.0\n\nrequire (\n" +
		strings.Join(requirements(string(gomod)), "\n") + "\n)\n\nreplace github.com/tipy/tipy => " + root + "\n"
	for name, data := range map[string][]byte{"main.go": []byte(snippet), "go.mod": []byte(mod), "go.sum": gosum} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "readme")
	build := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".")
	build.Dir = dir
	// -mod=mod lets go complete the new module's go.mod and go.sum should
	// it need more than tipy's (from the module cache, or GOPROXY).
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod "+os.Getenv("GOFLAGS"))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the README snippet in a fresh module: %v\n%s\ngo.mod:\n%s", err, out, mod)
	}
	run := exec.CommandContext(ctx, bin)
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("running the README snippet: %v\n%s", err, out)
	}
	want := regexp.MustCompile(`^10\.0\.0\.1:\d+ → 10\.0\.0\.2:7: hello, tipy\n$`)
	if !want.Match(out) {
		t.Fatalf("the README snippet printed %q, want a line like %q", out, "10.0.0.1:33654 → 10.0.0.2:7: hello, tipy")
	}
	// The README quotes what the snippet prints.
	if !strings.Contains(strings.ReplaceAll(string(readme), "\n", " "), strings.TrimSpace(string(out))) {
		t.Errorf("README.md does not quote the snippet's output %q", strings.TrimSpace(string(out)))
	}
}

// extractSnippet returns the ```go block between the snippet markers.
func extractSnippet(readme string) (string, error) {
	const start, end = "<!-- snippet:start -->", "<!-- snippet:end -->"
	i, j := strings.Index(readme, start), strings.Index(readme, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("README.md has no %s ... %s section", start, end)
	}
	block := strings.TrimSpace(readme[i+len(start) : j])
	if !strings.HasPrefix(block, "```go\n") || !strings.HasSuffix(block, "\n```") {
		return "", fmt.Errorf("the README snippet is not a single ```go block")
	}
	return strings.TrimSuffix(strings.TrimPrefix(block, "```go\n"), "```"), nil
}

// goLine returns the go directive of a go.mod.
func goLine(gomod string) string {
	for line := range strings.Lines(gomod) {
		if strings.HasPrefix(line, "go ") {
			return line
		}
	}
	return "go 1.26\n"
}

// requirements returns the "path version" lines of a go.mod's require
// directives.
func requirements(gomod string) []string {
	var out []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "require (":
			in = true
		case in && line == ")":
			in = false
		case in && line != "":
			out = append(out, "\t"+line)
		case strings.HasPrefix(line, "require "):
			out = append(out, "\t"+strings.TrimPrefix(line, "require "))
		}
	}
	return out
}
