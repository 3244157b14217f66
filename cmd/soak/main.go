// Command soak runs the orbit binary at a steady rate of mixed workflows
// for a long time and says whether its memory and data file levelled off
// (internal/soak). `make soak DURATION=1h` builds orbit and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/orbit-sidecar/orbit/internal/soak"
)

func main() {
	cfg := soak.Config{Log: os.Stdout}
	flag.StringVar(&cfg.Orbit, "orbit", "bin/orbit", "the orbit binary to soak")
	flag.StringVar(&cfg.Scripts, "scripts", "internal/soak/testdata/scripts", "the soak's bundle")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Minute, "how long the load runs")
	flag.DurationVar(&cfg.Every, "every", time.Minute, "how often the sidecar is sampled")
	flag.Float64Var(&cfg.Rate, "rate", 20, "workflows started per second")
	flag.DurationVar(&cfg.Retention, "retention", time.Minute, "the sidecar's --retention: short, so that purges run")
	flag.DurationVar(&cfg.Sweep, "sweep", 10*time.Second, "the sidecar's --retention-sweep")
	out := flag.String("out", "soak-out", "directory for the table (soak.md) and the chart (soak.svg)")
	flag.Parse()
	if err := run(cfg, *out); err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(1)
	}
}

func run(cfg soak.Config, out string) error {
	dir, err := os.MkdirTemp("", "orbit-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg.Dir = dir
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("soak: %s at %.0f workflows/s, sampled every %s, retention %s swept every %s\n",
		cfg.Duration, cfg.Rate, cfg.Every, cfg.Retention, cfg.Sweep)
	res, err := soak.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	table, err := os.Create(filepath.Join(out, "soak.md"))
	if err != nil {
		return err
	}
	res.WriteTable(table)
	if err := table.Close(); err != nil {
		return err
	}
	chart, err := os.Create(filepath.Join(out, "soak.svg"))
	if err != nil {
		return err
	}
	res.WriteSVG(chart)
	if err := chart.Close(); err != nil {
		return err
	}
	res.WriteTable(os.Stdout)
	fmt.Printf("soak: wrote %s and %s\n", table.Name(), chart.Name())
	if !res.OK() {
		return fmt.Errorf("the soak failed: see the verdicts above")
	}
	return nil
}
