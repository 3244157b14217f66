package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/api"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// orderVersions is an order workflow in two versions. v1 waits for
// payment in Gate and for a review in Review; v2 renames Review to Check,
// stamps its instances, and its migrate function records where a moved
// instance came from.
func orderVersions() (v1, v2 *flow.Bundle) {
	v1 = bundle(workflow("order", "Gate",
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "paid", Result: flow.MustPath("$.paid"), Next: "Review"},
		&flow.State{Name: "Review", Kind: flow.Await, Event: "reviewed", Result: flow.MustPath("$.review")}))
	wf := workflow("order", "Gate",
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "paid", Result: flow.MustPath("$.paid"), Next: "Check"},
		&flow.State{Name: "Check", Kind: flow.Await, Event: "reviewed", Result: flow.MustPath("$.review"), Next: "Stamp"},
		&flow.State{Name: "Stamp", Kind: flow.Pass, HasValue: true, Value: "v2", Result: flow.MustPath("$.by")})
	wf.Version = "v2"
	wf.Migrate = func(from, state string, data any) (string, any, error) {
		m := map[string]any{"from": from}
		for k, v := range data.(map[string]any) {
			m[k] = v
		}
		return state, m, nil
	}
	v2 = bundle(wf)
	v2.Hash = "test-v2"
	return v1, v2
}

// migrations indexes a {"migrations": [...]} answer by instance.
func migrations(t *testing.T, r reply) map[string]map[string]any {
	t.Helper()
	list, ok := r.json["migrations"].([]any)
	if !ok {
		t.Fatalf("no migrations list in %s", r.body)
	}
	out := map[string]map[string]any{}
	for _, it := range list {
		m := it.(map[string]any)
		out[m["instance"].(string)] = m
	}
	return out
}

// TestMigrateDryRunThenReal moves the waiting instances of a workflow to
// v2: the dry run forecasts and changes nothing, the real run moves the
// instance whose state v2 has and refuses the one whose state v2 renamed;
// each then finishes on its version.
func TestMigrateDryRunThenReal(t *testing.T) {
	v1, v2 := orderVersions()
	s := newServer(t, v1, api.Options{})
	s.post("/v1/workflows/order/instances?id=a", `{"n":1}`).want(t, 201, "")
	s.post("/v1/workflows/order/instances?id=b", `{"n":2}`).want(t, 201, "")
	s.waitsFor("a", "event")
	s.waitsFor("b", "event")
	s.post("/v1/instances/b/events/paid", `true`).want(t, 202, "")
	s.until("b", "waiting in Review", func(r reply) bool {
		w, _ := r.json["waiting"].(map[string]any)
		return r.str("state") == "Review" && w != nil && w["event"] == "reviewed"
	})
	if err := s.engine.Load(context.Background(), v2); err != nil {
		t.Fatal(err)
	}

	dry := migrations(t, s.post("/v1/workflows/order/migrate?version=v2&dry_run=true", "").want(t, 200, ""))
	// A dry run moves nothing, so it says moved false and would_move true
	// (issue: it said "moved": true).
	if a := dry["a"]; len(dry) != 2 || a["moved"] != false || a["would_move"] != true || a["state"] != "Gate" ||
		a["from_version"] != "v1" || a["to_version"] != "v2" {
		t.Fatalf("dry run %v", dry)
	}
	if b := dry["b"]; b["moved"] != false || b["would_move"] != nil || !strings.Contains(b["reason"].(string), `has no state "Review"`) {
		t.Fatalf("dry run for b %v, want the missing state as the reason", b)
	}
	// One instance's dry run answers as its real run would.
	if r := s.post("/v1/instances/a/migrate?version=v2&dry_run=true", "").want(t, 200, ""); r.json["moved"] != false || r.json["would_move"] != true {
		t.Fatalf("dry run of a: %s", r.body)
	}
	r := s.post("/v1/instances/b/migrate?version=v2&dry_run=1", "").want(t, 409, api.CodeConflict)
	if r.str("instance") != "b" || r.json["moved"] != false || !strings.Contains(r.str("reason"), `has no state "Review"`) {
		t.Fatalf("409 body %s lacks the migration and its reason", r.body)
	}
	for _, id := range []string{"a", "b"} {
		if v := s.get("/v1/instances/" + id).str("version"); v != "v1" {
			t.Fatalf("a dry run moved %s to %s", id, v)
		}
	}

	done := migrations(t, s.post("/v1/workflows/order/migrate?version=v2", "").want(t, 200, ""))
	if done["a"]["moved"] != true || done["a"]["would_move"] != nil || done["b"]["moved"] != false || done["b"]["reason"] != dry["b"]["reason"] {
		t.Fatalf("migration %v", done)
	}
	if v := s.get("/v1/instances/a").str("version"); v != "v2" {
		t.Fatalf("a runs %s after the migration", v)
	}
	if v := s.get("/v1/instances/b").str("version"); v != "v1" {
		t.Fatalf("b, which cannot move, runs %s", v)
	}
	r = s.post("/v1/instances/a/migrate?version=v2", "").want(t, 409, api.CodeConflict)
	if !strings.Contains(r.str("reason"), "already runs version v2") {
		t.Fatalf("second migration of a: %s", r.body)
	}

	var migrated map[string]any
	for _, e := range s.get("/v1/instances/a/history").want(t, 200, "").json["events"].([]any) {
		if ev := e.(map[string]any); ev["type"] == "Migrated" {
			migrated = ev
		}
	}
	if migrated == nil || migrated["from_version"] != "v1" || migrated["to_version"] != "v2" || migrated["state"] != "Gate" {
		t.Fatalf("Migrated event %v", migrated)
	}

	s.post("/v1/instances/a/events/paid", `true`).want(t, 202, "")
	s.until("a", "waiting in Check", func(r reply) bool { return r.str("state") == "Check" })
	s.post("/v1/instances/a/events/reviewed", `"ok"`).want(t, 202, "")
	s.post("/v1/instances/b/events/reviewed", `"ok"`).want(t, 202, "")
	out := func(id string) string {
		b, _ := json.Marshal(s.status(id, "SUCCEEDED").json["output"])
		return string(b)
	}
	if got := out("a"); got != `{"by":"v2","from":"v1","n":1,"paid":true,"review":"ok"}` {
		t.Errorf("a finished with %s, want v2's stamp and the migrated data", got)
	}
	if got := out("b"); got != `{"n":2,"paid":true,"review":"ok"}` {
		t.Errorf("b finished with %s, want v1's path", got)
	}
	r = s.post("/v1/instances/a/migrate?version=v1", "").want(t, 409, api.CodeConflict)
	if !strings.Contains(r.str("reason"), "ended") {
		t.Fatalf("migration of an ended instance: %s", r.body)
	}
}

func TestMigrateErrors(t *testing.T) {
	v1, v2 := orderVersions()
	s := newServer(t, v1, api.Options{})
	s.post("/v1/workflows/order/instances?id=a", `{}`).want(t, 201, "")
	s.waitsFor("a", "event")
	if err := s.engine.Load(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	s.post("/v1/instances/a/migrate", "").want(t, 400, api.CodeBadRequest)
	s.post("/v1/instances/a/migrate?version=v2&dry_run=maybe", "").want(t, 400, api.CodeBadRequest)
	s.post("/v1/instances/missing/migrate?version=v2", "").want(t, 404, api.CodeNotFound)
	s.post("/v1/instances/a/migrate?version=v9", "").want(t, 404, api.CodeUnknownWorkflow)
	s.post("/v1/workflows/order/migrate", "").want(t, 400, api.CodeBadRequest)
	s.post("/v1/workflows/order/migrate?version=v9", "").want(t, 404, api.CodeUnknownWorkflow)
	s.post("/v1/workflows/nope/migrate?version=v2", "").want(t, 404, api.CodeUnknownWorkflow)
	s.get("/v1/workflows/order/migrate?version=v2").want(t, 405, api.CodeMethodNotAllowed)
	// A workflow with nothing waiting answers an empty list.
	s.post("/v1/instances/a/cancel", "").want(t, 202, "")
	if r := s.post("/v1/workflows/order/migrate?version=v2", "").want(t, 200, ""); string(r.body) != "{\"migrations\":[]}\n" {
		t.Fatalf("nothing to migrate answered %s", r.body)
	}
}
