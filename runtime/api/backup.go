package api

import (
	"io"

	"github.com/valyala/fasthttp"
)

// backup answers GET /v1/backup with a consistent copy of the data file,
// taken while the sidecar keeps serving: the store's snapshot, streamed
// with its length so that a cut-off copy is seen as one. `orbit backup
// --addr` calls it, and verifies what it receives.
func (s *Server) backup(ctx *fasthttp.RequestCtx, _ []string) {
	if s.opt.Snapshots == nil {
		writeError(ctx, fasthttp.StatusNotImplemented, CodeNotImplemented,
			"this sidecar's store cannot be backed up over HTTP; use the backup tools of the store itself")
		return
	}
	snap, err := s.opt.Snapshots.Snapshot()
	if err != nil {
		s.opt.Log.Error("backup", "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, CodeInternal, "cannot take a snapshot of the store: "+err.Error())
		return
	}
	// The snapshot is written into a pipe that the server reads as the
	// body; the server closes the reader when it is done or the client
	// leaves, which ends the writer and releases the snapshot.
	r, w := io.Pipe()
	go func() {
		_, err := snap.WriteTo(w)
		snap.Close()
		w.CloseWithError(err)
	}()
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/octet-stream")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="orbit.db"`)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyStream(r, int(snap.Size()))
}
