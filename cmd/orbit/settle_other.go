//go:build !linux

package main

// dropStartupPages is done only on Linux (see settle_linux.go).
func dropStartupPages() {}
