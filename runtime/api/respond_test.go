package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/store"
)

// answer is what a writer puts in a response: status, content type, body.
func answer(write func(ctx *fasthttp.RequestCtx)) (int, string, string) {
	var ctx fasthttp.RequestCtx
	ctx.Response.SetBodyString("left over from an earlier answer")
	write(&ctx)
	return ctx.Response.StatusCode(), string(ctx.Response.Header.ContentType()), string(ctx.Response.Body())
}

// The answers appended by hand are those writeJSON writes through
// encoding/json, byte for byte, final newline included; a payload that is
// not JSON is the same 500 in both.
func TestAppendedAnswersMatchWriteJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 11, 0, 0, 123456789, time.FixedZone("x", -7200))
	views := []store.View{
		{ID: "o-1", Workflow: "wf", Version: "v1", Status: store.Succeeded, State: "ünï\u2028\x01\"<&>",
			Input:  json.RawMessage(" {\"n\" : 12345678901234567890123, \"l\":[ {\"x\":\"a b\"} ] } "),
			Output: json.RawMessage(`{"deep":{"er":[1.50,-0,1e400]}}`), StartedAt: at, UpdatedAt: at, EndedAt: &at,
			IdempotencyKey: "k\xff"},
		{ID: "o-2", Status: store.Waiting, StartedAt: at, UpdatedAt: at,
			Waiting: &store.WaitingFor{Kind: store.WaitEvent, Event: "go\t", Until: &at}},
	}
	var hash store.Hash
	hash[0], hash[31] = 0xab, 0x01
	evs := []store.EventView{{Seq: 1, Type: "Started", Time: at, Input: views[0].Input},
		{Seq: 2, Type: "TaskFailed", Time: at, Error: "E\n", Cause: "c\x7f", Hash: hash}}
	cases := []struct {
		name     string
		appended jsonAppender
		std      any
	}{
		{"view", &views[0], views[0]},
		{"waiting view", &views[1], views[1]},
		{"list", &List{Instances: views, NextCursor: "c/1"}, List{Instances: views, NextCursor: "c/1"}},
		{"empty list", &List{Instances: []store.View{}}, List{Instances: []store.View{}}},
		{"history", &History{Events: evs, ChainHead: &store.ChainHead{Seq: 2, Hash: hash}},
			History{Events: evs, ChainHead: &store.ChainHead{Seq: 2, Hash: hash}}},
		{"history without head", &History{Events: []store.EventView{}}, History{Events: []store.EventView{}}},
		{"invalid payload", &store.View{ID: "o-3", Output: json.RawMessage("{ oops")}, store.View{ID: "o-3", Output: json.RawMessage("{ oops")}},
	}
	for _, c := range cases {
		gs, gt, gb := answer(func(ctx *fasthttp.RequestCtx) { writeAppended(ctx, fasthttp.StatusCreated, c.appended) })
		ws, wt, wb := answer(func(ctx *fasthttp.RequestCtx) { writeJSON(ctx, fasthttp.StatusCreated, c.std) })
		if gs != ws || gt != wt || gb != wb {
			t.Errorf("%s:\n got %d %s %s\nwant %d %s %s", c.name, gs, gt, gb, ws, wt, wb)
		}
	}
}

// BenchmarkWriteView writes the answer of a synchronous start.
func BenchmarkWriteView(b *testing.B) {
	at := time.Now()
	inst := &store.Instance{Public: store.Public{ID: "o-0001kx3v9w2b8y7z", Workflow: "order", Version: "v1", Status: store.Succeeded,
		Input:     json.RawMessage(`{"order":{"id":"o-1","amount":42}}`),
		Output:    json.RawMessage(`{"order":{"id":"o-1","amount":42},"charged":true,"reserved":true,"shipped":true}`),
		StartedAt: at, UpdatedAt: at, EndedAt: &at}}
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	for b.Loop() {
		writeView(&ctx, fasthttp.StatusOK, inst)
	}
}
