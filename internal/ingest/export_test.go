package ingest

// Test signals: how many requests wait for a writer, and whether Close has
// begun, so tests await states instead of sleeping.

// QueuedForTest is the number of requests queued for the writers.
func (h *Handler) QueuedForTest() int { return len(h.queue) }

// ClosedForTest reports whether Close has begun.
func (h *Handler) ClosedForTest() bool {
	h.qmu.RLock()
	defer h.qmu.RUnlock()
	return h.closed
}
