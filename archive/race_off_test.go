//go:build !race

package archive

// raceBuild reports whether the tests run under the race detector.
const raceBuild = false
