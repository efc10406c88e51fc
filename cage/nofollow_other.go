//go:build !linux

package cage

const noFollow = 0
