// Package hub assembles `flotilla hub`: one controller-runtime manager with
// every hub controller, leader-elected, serving metrics and health probes.
// The controllers live in the packages below it, one per concern.
package hub
