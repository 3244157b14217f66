//go:build !orbitfault || !unix

package fault

// Enabled reports whether this build can kill at fault points.
const Enabled = false

// Hit marks a fault point; outside a fault build it does nothing.
func Hit(Point) {}
