// Command shardpacs is a DICOM archive node (PACS) whose every stored instance
// is compressed, encrypted and split into four shares on four stores.
//
//	shardpacs serve                  run the node (AE SHARDPACS, 127.0.0.1:11112, ./data)
//	shardpacs help                   list every subcommand
//
// Each subcommand lives in its own file and registers itself in commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: its name, a one-line summary and its entry point.
// run receives the arguments after the subcommand name and writes its normal
// output to stdout; an error ends the process with exit status 1 (2 for usage).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled by the init functions of the subcommand files.
var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// errUsage marks an error in the command line: exit status 2.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "shardpacs: unknown command %q (try: shardpacs help)\n", args[0])
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "shardpacs %s: %v\n", c.name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "shardpacs %s: %v\n", c.name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "shardpacs — a DICOM archive node that stores every instance as four encrypted shares")
	fmt.Fprintln(w, "\nUsage: shardpacs <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'shardpacs <command> -h' for the flags of a command.")
}
