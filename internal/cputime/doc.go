// Package cputime reads the CPU time the process has spent, for measures
// that must hold on a machine shared with other work, where wall time
// says more about the other work than about the code measured.
package cputime
