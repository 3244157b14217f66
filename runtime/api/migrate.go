package api

import (
	"context"
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/orbit-sidecar/orbit/runtime/engine"
)

// MigrationRefused is the answer (409) of a migration the instance cannot
// make: the usual error body, and beside it the migration with its reason.
type MigrationRefused struct {
	Error ErrorDetail `json:"error"`
	*engine.Migration
}

// Migrations is the answer of POST /v1/workflows/{name}/migrate.
type Migrations struct {
	Migrations []*engine.Migration `json:"migrations"`
}

// migrateArgs reads version (required) and dry_run, answering 400 when
// they are not fit.
func migrateArgs(ctx *fasthttp.RequestCtx) (version string, dryRun, ok bool) {
	q := ctx.QueryArgs()
	version = string(q.Peek("version"))
	if version == "" {
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, "query version names the version to migrate to")
		return "", false, false
	}
	switch d := string(q.Peek("dry_run")); d {
	case "", "false", "0":
	case "true", "1":
		dryRun = true
	default:
		writeError(ctx, fasthttp.StatusBadRequest, CodeBadRequest, "dry_run must be true or false, not "+d)
		return "", false, false
	}
	return version, dryRun, true
}

// migrate answers POST /v1/instances/{id}/migrate: 200 with the migration
// when the instance moves (or with dry_run would), 409 with it and its
// reason when not. A dry run answers as the real request would.
func (s *Server) migrate(ctx *fasthttp.RequestCtx, p []string) {
	version, dryRun, ok := migrateArgs(ctx)
	if !ok {
		return
	}
	inst, err := s.engine.Get(p[0])
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	if !s.knownVersion(inst.Workflow, version) {
		writeError(ctx, fasthttp.StatusNotFound, CodeUnknownWorkflow,
			"unknown workflow "+inst.Workflow+" version "+version)
		return
	}
	m, err := s.engine.Migrate(inst.ID, version, dryRun)
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	if !m.Movable() {
		writeJSON(ctx, fasthttp.StatusConflict, MigrationRefused{
			Error: ErrorDetail{Code: CodeConflict, Message: m.Reason}, Migration: m})
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, m)
}

// knownVersion says whether a start could name the version (what GET
// /v1/workflows/{name} lists under versions).
func (s *Server) knownVersion(workflow, version string) bool {
	return slices.Contains(s.engine.Versions()[workflow], version)
}

// migrateWorkflow answers POST /v1/workflows/{name}/migrate: every
// unfinished top-level instance of the workflow, each with whether it moved
// (or would) and why not. It is 200 whatever each instance did; an unknown
// workflow or version is 404.
func (s *Server) migrateWorkflow(ctx *fasthttp.RequestCtx, p []string) {
	version, dryRun, ok := migrateArgs(ctx)
	if !ok {
		return
	}
	// Like a start, the moves run to their end even when a shutdown ends
	// the request: the engine refuses what it can no longer do, and says so.
	ms, err := s.engine.MigrateWorkflow(context.Background(), p[0], version, dryRun)
	if err != nil {
		s.writeEngineError(ctx, err)
		return
	}
	if ms == nil {
		ms = []*engine.Migration{}
	}
	writeJSON(ctx, fasthttp.StatusOK, Migrations{Migrations: ms})
}
