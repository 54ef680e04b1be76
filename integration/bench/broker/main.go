// Command broker is the Kafka-protocol broker of loglet's benchmark: a
// one-broker kfake cluster in a process of its own, so that its CPU is not
// counted with the forwarder's. It prints its listen address (host:port) on
// a line of its own on stdout once it accepts connections, and runs until
// SIGTERM, SIGINT or the end of its standard input.
//
// With -blackhole the broker acknowledges produce requests without storing
// the records (offsets still advance, so the records can be counted but not
// read): the full-speed runs use it so that 2,000,000 records do not fill
// the broker's memory.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	topics := flag.String("topics", "logs.bench", "comma-separated topics to create, one partition each")
	blackhole := flag.Bool("blackhole", false, "acknowledge records without storing them")
	port := flag.Int("port", 0, "port to listen on, on 127.0.0.1 (0: any free port)")
	flag.Parse()

	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(*port), kfake.AllowAutoTopicCreation()}
	for t := range strings.SplitSeq(*topics, ",") {
		if t != "" {
			opts = append(opts, kfake.SeedTopics(1, t))
		}
	}
	if *blackhole {
		opts = append(opts, kfake.BlackholeProduce())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "broker: %v\n", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println(c.ListenAddrs()[0])

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		io.Copy(io.Discard, os.Stdin) // the benchmark closes stdin when it ends, even if killed
		stop()
	}()
	<-ctx.Done()
}
