// Package top implements `flotilla top clusters`: how much of each member
// cluster's allocatable CPU, memory and pods the pods there request, from
// the resource summaries the hub keeps on each Cluster's status. Like
// `kubectl top nodes`, but for allocation: requests against allocatable,
// not live usage.
package top
