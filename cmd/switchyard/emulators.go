package main

import (
	"log/slog"
	"net/http"

	"switchyard/internal/emulator/gorgias"
	"switchyard/internal/emulator/klaviyo"
	"switchyard/internal/emulator/konnektive"
	"switchyard/internal/emulator/shopify"
	"switchyard/internal/emulator/whiplash"
	"switchyard/internal/emulator/yotpo"
)

// emulators maps a vendor name to a constructor of its standalone emulator
// (default accounts and credentials of SPEC §4) and its close function.
func emulators() map[string]func(logger *slog.Logger) (http.Handler, func()) {
	return map[string]func(logger *slog.Logger) (http.Handler, func()){
		"gorgias": func(l *slog.Logger) (http.Handler, func()) {
			e := gorgias.New(gorgias.Config{Logger: l})
			return e, e.Close
		},
		"klaviyo": func(l *slog.Logger) (http.Handler, func()) {
			e := klaviyo.New(klaviyo.Config{Logger: l})
			return e, e.Close
		},
		"whiplash": func(l *slog.Logger) (http.Handler, func()) {
			e := whiplash.New(whiplash.Config{Logger: l})
			return e, e.Close
		},
		"konnektive": func(l *slog.Logger) (http.Handler, func()) {
			e := konnektive.New(konnektive.Config{Logger: l})
			return e, e.Close
		},
		"yotpo": func(l *slog.Logger) (http.Handler, func()) {
			e := yotpo.New(yotpo.Config{Logger: l})
			return e, e.Close
		},
		"shopify": func(l *slog.Logger) (http.Handler, func()) {
			e := shopify.New(shopify.Config{Logger: l})
			return e, e.Close
		},
	}
}
