// Command flotilla is Flotilla's one binary: the hub daemon and every user
// command. Installed as kubectl-flotilla it also works as `kubectl flotilla`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/flotilla-io/flotilla/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := cli.NewRootCommand()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error: "+err.Error())
		if errors.Is(err, cli.ErrUsage) {
			os.Exit(cli.ExitUsage)
		}
		os.Exit(cli.ExitError)
	}
}
