package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

type emulateCmd struct {
	Vendor string `arg:"" help:"Vendor to emulate: gorgias, klaviyo, whiplash, konnektive, yotpo, shopify."`
	Addr   string `name:"addr" env:"SWITCHYARD_EMULATE_ADDR" default:"127.0.0.1:9090" help:"Listen address."`
}

func (c *emulateCmd) Run(g *globals) error {
	table := emulators()
	mk, ok := table[c.Vendor]
	if !ok {
		names := make([]string, 0, len(table))
		for n := range table {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("no emulator for %q (available: %s)", c.Vendor, strings.Join(names, ", "))
	}
	logger := g.logger(os.Stderr)
	h, closeFn := mk(logger)
	defer closeFn()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("error listening on %s: %w", c.Addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.Info("emulator serving", slog.String("vendor", c.Vendor), slog.String("url", "http://"+ln.Addr().String()))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
