// Package emulator_test holds checks that span every emulator.
package emulator_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// providerPrefix is switchyard's vendor clients. An emulator is written from
// the vendor's contract and must never share code with them (SPEC §4).
const providerPrefix = "switchyard/internal/provider"

// TestNoEmulatorDependsOnAProvider runs go list -deps over every emulator
// and fails on any internal/provider package, naming who imports it.
func TestNoEmulatorDependsOnAProvider(t *testing.T) {
	t.Parallel()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./internal/emulator/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	importers := map[string][]string{} // package -> listed packages importing it
	var pkgs []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkgs = append(pkgs, fields[0])
		for _, imp := range fields[1:] {
			importers[imp] = append(importers[imp], fields[0])
		}
	}
	if !slices.Contains(pkgs, "switchyard/internal/emulator/whiplash") || !slices.Contains(pkgs, "switchyard/internal/emulator/shopify") {
		t.Fatalf("go list did not reach the emulators (%d packages); the check proves nothing", len(pkgs))
	}
	for _, p := range pkgs {
		if p == providerPrefix || strings.HasPrefix(p, providerPrefix+"/") {
			t.Errorf("an emulator depends on %s (imported by %v)", p, importers[p])
		}
	}
}
