package outbound

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"switchyard/internal/domain"
)

// BatchRecorder buffers deliveries and writes them in batches through Sink,
// so logging an attempt costs no database round trip on the call path. Close
// flushes what is left.
type BatchRecorder struct {
	sink     func(ctx context.Context, ds []*domain.Delivery) error
	logger   *slog.Logger
	observe  func(d *domain.Delivery)
	max      int
	interval time.Duration

	mu      sync.Mutex
	buf     []*domain.Delivery
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// NewBatchRecorder starts a recorder that flushes every interval or when max
// deliveries are buffered. observe (may be nil) sees every delivery first
// (metrics).
func NewBatchRecorder(sink func(ctx context.Context, ds []*domain.Delivery) error, observe func(d *domain.Delivery), logger *slog.Logger, max int, interval time.Duration) *BatchRecorder {
	if max <= 0 {
		max = 256
	}
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &BatchRecorder{sink: sink, observe: observe, logger: logger, max: max, interval: interval,
		kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go r.loop()
	return r
}

// Record implements Recorder.
func (r *BatchRecorder) Record(d *domain.Delivery) {
	if r.observe != nil {
		r.observe(d)
	}
	r.mu.Lock()
	r.buf = append(r.buf, d)
	full := len(r.buf) >= r.max
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

func (r *BatchRecorder) loop() {
	defer close(r.stopped)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			r.Flush(context.Background())
			return
		case <-t.C:
		case <-r.kick:
		}
		r.Flush(context.Background())
	}
}

// Flush writes buffered deliveries now.
func (r *BatchRecorder) Flush(ctx context.Context) {
	r.mu.Lock()
	batch := r.buf
	r.buf = nil
	r.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), r.max)
		if err := r.sink(ctx, batch[:n]); err != nil {
			r.logger.Error("error recording deliveries", slog.Int("count", n), slog.String("error", err.Error()))
		}
		batch = batch[n:]
	}
}

// Close stops the recorder after a final flush.
func (r *BatchRecorder) Close() {
	r.once.Do(func() { close(r.done) })
	<-r.stopped
}
