package orbittest

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// errorRow is a row of docs/api.md's table of error codes.
var errorRow = regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| [0-9]{3} \\|")

// ErrorCodes reads the error codes of the table in docs/api.md (the path
// from the test's package), sorted: the list users read, which every
// client's and description's list of codes is checked against.
func ErrorCodes(t testing.TB, apiMD string) []string {
	t.Helper()
	md, err := os.ReadFile(apiMD)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, m := range errorRow.FindAllSubmatch(md, -1) {
		codes = append(codes, string(m[1]))
	}
	if len(codes) == 0 {
		t.Fatalf("%s has no table of error codes", apiMD)
	}
	slices.Sort(codes)
	return codes
}
