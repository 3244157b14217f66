package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/client"
)

// A table prints a bundle hash, the version of a workflow without a label,
// as git prints a commit (issue: 64 characters in every row), a label
// whole; a dry run counts what would move.
func TestMigrationTableShortensHashes(t *testing.T) {
	hash := strings.Repeat("0123456789abcdef", 4)
	var out bytes.Buffer
	err := writeMigrations(&out, []client.Migration{
		{Instance: "o-7", FromVersion: hash, ToVersion: "release-2026-12-01", State: "Review", WouldMove: true},
		{Instance: "o-2", FromVersion: hash, ToVersion: "release-2026-12-01", State: "Save", Reason: "instance is running a step"},
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"o-7  0123456789ab → release-2026-12-01  Review  would move",
		"o-2  0123456789ab → release-2026-12-01  Save    cannot: instance is running a step",
		"dry run: 1 of 2 would move, 1 cannot",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, hash) {
		t.Errorf("table prints the whole hash:\n%s", got)
	}
	if v := shortVersion("v1"); v != "v1" {
		t.Errorf("label v1 printed %q", v)
	}
	if v := shortVersion(strings.Repeat("x", 64)); len(v) != 64 {
		t.Errorf("a 64-character label that is no hash printed %q", v)
	}
}
