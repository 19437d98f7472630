// Package bench measures Flotilla on real clusters and prints the figures
// that docs/performance.md records. Run it with `make bench`.
package bench
