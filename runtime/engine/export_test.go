package engine

// ClaimWaits counts the starts waiting now for another start of their id.
func ClaimWaits(e *Engine) int64 { return e.claimWaits.Load() }
