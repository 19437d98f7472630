// Package token implements `flotilla token create|list|revoke`: the
// bootstrap tokens with which pull-mode clusters register.
package token

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/output"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// NewCommand returns `flotilla token`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the bootstrap tokens with which pull-mode clusters register",
		Long: `Manage bootstrap tokens: the shared secrets with which an edge cluster's agent
registers with the hub (flotilla register). A token expires, and can be
revoked; revoking it stops new registrations with it, not the clusters it
registered (flotilla unjoin NAME cuts one of those off).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newCreateCommand(conn), newListCommand(conn), newRevokeCommand(conn))
	return cmd
}

func clientset(conn *clientconfig.Options) (kubernetes.Interface, *rest.Config, error) {
	cfg, err := conn.RESTConfig()
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the hub at %s: %w", cfg.Host, err)
	}
	return cs, cfg, nil
}

func newCreateCommand(conn *clientconfig.Options) *cobra.Command {
	var (
		o      registration.TokenOptions
		hubURL string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a bootstrap token and print the command that registers a cluster with it",
		Long: `Create a bootstrap token on the hub and print, on standard output, the
` + "`flotilla register`" + ` command that registers a cluster with it. The command pins the
hub's CA by the SHA-256 hash of its public key, so that the agent refuses
any other server.

The first token also readies the hub for registrations: it makes sure the
kube-public/cluster-info ConfigMap exists (the hub's kube-controller-manager
signs it with each token), and that the tokens may read it and send
certificate signing requests, and nothing else.

With --require-accept, a registration with the token waits until an
administrator runs ` + "`flotilla accept NAME`" + `.`,
		Example: `  flotilla token create --ttl 2h --description "shop floor 7"
  flotilla token create --require-accept`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, cfg, err := clientset(conn)
			if err != nil {
				return err
			}
			if hubURL == "" {
				hubURL = cfg.Host
			}
			ca, err := caOf(cfg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			hashes, err := registration.PrepareHub(ctx, cs, hubURL, ca)
			if err != nil {
				return fmt.Errorf("ready the hub for registrations: %w", err)
			}
			tok, t, err := registration.CreateToken(ctx, cs, o, time.Now())
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			fmt.Fprintf(stderr, "bootstrap token %s created; it expires at %s (in %s)\n", t.ID, t.Expires.UTC().Format(time.RFC3339), duration.HumanDuration(o.TTL))
			if o.RequireAccept {
				fmt.Fprintf(stderr, "registrations with it wait for `flotilla accept NAME`\n")
			}
			// A token that expires sooner may never be signed.
			if wait := min(30*time.Second, o.TTL); registration.WaitSigned(ctx, cs, t.ID, wait) != nil && !t.Expired(time.Now()) {
				fmt.Fprintf(stderr, "warning: the hub has not signed kube-public/cluster-info for token %s within %s: "+
					"registration waits until it does; does the hub's kube-controller-manager run the bootstrapsigner controller?\n", t.ID, wait)
			}
			fmt.Fprintf(stderr, "register a cluster with (on the cluster's side):\n")
			printJoinCommand(cmd.OutOrStdout(), hubURL, tok, hashes)
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.TTL, "ttl", time.Hour, "how long the token is valid")
	f.StringVar(&o.Description, "description", "", "what the token is for, shown by flotilla token list")
	f.BoolVar(&o.RequireAccept, "require-accept", false, "registrations with the token wait for flotilla accept NAME")
	f.StringVar(&hubURL, "hub-url", "", "the hub's URL as the clusters reach it (default: the server of the hub kubeconfig)")
	return cmd
}

// printJoinCommand writes the `flotilla register` line. It carries the
// token: standard output only, never a log.
func printJoinCommand(w io.Writer, hub, token string, hashes []string) {
	args := []string{"flotilla register", "--hub " + hub, "--token " + token}
	for _, h := range hashes {
		args = append(args, "--ca-cert-hash "+h)
	}
	args = append(args, "--name CLUSTER_NAME", "--cluster-kubeconfig LOCAL_KUBECONFIG")
	fmt.Fprintln(w, strings.Join(args, " "))
}

// caOf returns the hub CA of a client configuration.
func caOf(cfg *rest.Config) ([]byte, error) {
	if len(cfg.CAData) > 0 {
		return cfg.CAData, nil
	}
	if cfg.CAFile != "" {
		return os.ReadFile(cfg.CAFile)
	}
	return nil, nil
}

func newListCommand(conn *clientconfig.Options) *cobra.Command {
	var out output.Options
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List Flotilla's bootstrap tokens (never their secrets)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out.Format == output.Name {
				return errors.New("-o name is not supported for tokens: use wide, json or yaml")
			}
			if err := out.Validate(); err != nil {
				return err
			}
			cs, _, err := clientset(conn)
			if err != nil {
				return err
			}
			tokens, err := registration.ListTokens(cmd.Context(), cs)
			if err != nil {
				return err
			}
			return printTokens(cmd.OutOrStdout(), out.Format, tokens, time.Now())
		},
	}
	out.AddFlags(cmd.Flags())
	return cmd
}

// printTokens writes tokens as a table or as JSON or YAML.
func printTokens(w io.Writer, format string, tokens []registration.Token, now time.Time) error {
	if format == output.JSON || format == output.YAML {
		if tokens == nil {
			tokens = []registration.Token{}
		}
		return output.PrintValue(w, format, map[string]any{"tokens": tokens})
	}
	if len(tokens) == 0 {
		fmt.Fprintln(w, "No Flotilla bootstrap tokens. Create one with `flotilla token create`.")
		return nil
	}
	cols := []output.Column{{Header: "ID"}, {Header: "TTL"}, {Header: "EXPIRES"}, {Header: "USAGES"}, {Header: "DESCRIPTION"},
		{Header: "REQUIRE-ACCEPT", Wide: true}, {Header: "EXTRA-GROUPS", Wide: true}}
	rows := make([]output.Row, 0, len(tokens))
	for _, t := range tokens {
		ttl, expires := "<forever>", "<never>"
		if t.Expires != nil {
			expires = t.Expires.UTC().Format(time.RFC3339)
			ttl = "<expired>"
			if !t.Expired(now) {
				ttl = duration.HumanDuration(t.Expires.Sub(now))
			}
		}
		rows = append(rows, output.Row{t.ID, ttl, expires, orDash(strings.Join(t.Usages, ",")), orDash(t.Description),
			fmt.Sprint(t.RequireAccept), orDash(strings.Join(t.ExtraGroups, ","))})
	}
	return output.PrintTable(w, format == output.Wide, cols, rows)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newRevokeCommand(conn *clientconfig.Options) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke TOKEN_ID...",
		Aliases: []string{"delete"},
		Short:   "Revoke bootstrap tokens: the hub accepts no new registration with them",
		Long: `Revoke bootstrap tokens by ID (the part before the dot). The hub then accepts
no new registration with them; a registration that still waits for
` + "`flotilla accept`" + ` is denied when accepted. Clusters already registered keep their own certificates: cut one
off with ` + "`flotilla unjoin NAME`" + `.`,
		Example: `  flotilla token revoke abcdef`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, _, err := clientset(conn)
			if err != nil {
				return err
			}
			return revoke(cmd.Context(), cmd.OutOrStdout(), cs, args)
		},
	}
}

func revoke(ctx context.Context, w io.Writer, cs kubernetes.Interface, args []string) error {
	var errs []error
	for _, a := range args {
		id, err := registration.ParseTokenID(a)
		if err == nil {
			err = registration.RevokeToken(ctx, cs, id)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(w, "bootstrap token %s revoked\n", id)
	}
	return errors.Join(errs...)
}
