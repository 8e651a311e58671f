//go:build race

package integration

// raceEnabled builds the outbox binary under test with -race too.
const raceEnabled = true
