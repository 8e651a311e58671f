// Command hello is the start-up baseline of the benchmarks: the smallest Go
// program that prints a line, built with the same toolchain as outbox.
package main

import "fmt"

func main() { fmt.Println("hello, world") }
