package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"switchyard/internal/demo"
)

type demoCmd struct {
	Addr    string        `name:"addr" env:"SWITCHYARD_ADDR" default:"127.0.0.1:8080" help:"Hub listen address."`
	DB      string        `name:"db" env:"SWITCHYARD_DEMO_DB" help:"Hub database (default: a fresh SQLite file in a temporary directory)."`
	Orders  int           `name:"orders" env:"SWITCHYARD_DEMO_ORDERS" default:"40" help:"Orders per simulated wave."`
	Tickets int           `name:"tickets" env:"SWITCHYARD_DEMO_TICKETS" default:"3" help:"Customers of each wave who open a Gorgias ticket."`
	Waves   int           `name:"waves" env:"SWITCHYARD_DEMO_WAVES" default:"0" help:"Number of waves (0: until Ctrl-C)."`
	Pause   time.Duration `name:"pause" env:"SWITCHYARD_DEMO_PAUSE" default:"20s" help:"Pause between waves."`
	Seed    uint64        `name:"seed" env:"SWITCHYARD_DEMO_SEED" default:"1" help:"Seed of the simulated data."`
}

func (c *demoCmd) Run(g *globals) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := demo.Start(ctx, demo.Config{Addr: c.Addr, DB: c.DB, OrdersPerWave: c.Orders, TicketsPerWave: c.Tickets, Waves: c.Waves, Pause: c.Pause, Seed: c.Seed,
		Logger: g.logger(os.Stderr)}, os.Stdout)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Run(ctx)
}
