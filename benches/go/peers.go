// Go's forms of W1 and W3 (shared/BENCHMARKS.md), a peer in `cargo bench --bench compare`
// (`--impls ...,go`), which builds this file with `go build` and runs it as the child:
//
//	peers --workload W1 --n 100000 [--workers N]   spawn N goroutines, goroutine i stores i,
//	                                               wait for all, check the sum
//	peers --workload W3 --n 100000 [--workers N]   N goroutines each sleep 1 s, wait for all
//
// --workers sets GOMAXPROCS (0: Go's default, the number of CPUs). It prints one RESULT line
// in the format of the Rust workload programs.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	workload := flag.String("workload", "", "W1 or W3")
	n := flag.Int("n", 100000, "goroutines")
	workers := flag.Int("workers", 0, "GOMAXPROCS (0: default)")
	flag.String("impl", "go", "ignored (always go)")
	flag.Bool("raise-map-count", false, "ignored (goroutines need no mappings)")
	flag.Parse()
	if *workers > 0 {
		runtime.GOMAXPROCS(*workers)
	}
	switch *workload {
	case "W1":
		results := make([]uint64, *n)
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; i < *n; i++ {
			wg.Add(1)
			go func(i int) {
				results[i] = uint64(i)
				wg.Done()
			}(i)
		}
		wg.Wait()
		var sum uint64
		for _, r := range results {
			sum += r
		}
		elapsed := time.Since(start)
		want := uint64(*n) * uint64(*n-1) / 2
		fmt.Printf("RESULT workload=W1 peer=go n=%d total_s=%.4f ns_per_task=%d ok=%t gomaxprocs=%d\n",
			*n, elapsed.Seconds(), elapsed.Nanoseconds()/int64(*n), sum == want, runtime.GOMAXPROCS(0))
	case "W3":
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; i < *n; i++ {
			wg.Add(1)
			go func() {
				time.Sleep(time.Second)
				wg.Done()
			}()
		}
		wg.Wait()
		fmt.Printf("RESULT workload=W3 peer=go n=%d wall_s=%.3f gomaxprocs=%d\n",
			*n, time.Since(start).Seconds(), runtime.GOMAXPROCS(0))
	default:
		fmt.Fprintf(os.Stderr, "--workload W1 or W3, not %q\n", *workload)
		os.Exit(2)
	}
}
