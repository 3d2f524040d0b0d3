package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
)

func init() {
	register(&command{name: "move", summary: "C-MOVE: have a node send matching instances to an AE", run: runMove})
}

// runMove is "shardpacs move [flags] TARGET --dest AE --level STUDY -k
// StudyInstanceUID=...": one C-MOVE (PS3.4 C.4.2); the node sends the
// matches to the AE --dest (which the node must know: otherwise 0xA801)
// over associations of its own. Every pending response is printed as a
// progress line, then the final counts and status; the UIDs of failed
// sub-operations when the node lists them. Anything but Success (0xB000
// included: some sub-operations failed) is an error. Interrupting sends a
// C-CANCEL-RQ.
func runMove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newSCUFlags("move", "move [flags] HOST:PORT|PEER-AE --dest AE --level STUDY -k StudyInstanceUID=...", stderr)
	var q queryOptions
	q.register(o.fs, levelStudy)
	dest := o.fs.String("dest", "", "move destination `AE` title (default: our calling AE title)")
	target, err := parseTarget(o.fs, args)
	if err != nil {
		return err
	}
	level, model, keys, err := q.resolve()
	if err != nil {
		return err
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	t, err := o.resolveTarget(cfg, target)
	if err != nil {
		return err
	}
	c, err := o.client(cfg, t)
	if err != nil {
		return err
	}
	destination := *dest
	if destination == "" {
		destination = c.AETitle
	}
	cc, err := dial(ctx, c, t, []dimse.ContextProposal{{AbstractSyntax: model.move, TransferSyntaxes: dimse.EchoContext().TransferSyntaxes}})
	if err != nil {
		return err
	}
	defer release(ctx, cc)
	ts, _ := cc.TransferSyntax(model.move)
	id, err := dcm.EncodeIdentifier(identifier(level, keys, nil), ts)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	ops, st, err := cc.Move(ctx, model.move, destination, id, func(p dimse.SubOps) {
		fmt.Fprintf(stdout, "pending: %s\n", subOpsText(p))
	})
	return retrieveResult(stdout, "C-MOVE to "+destination, dimse.CMoveRQ, ops, st, err)
}

// subOpsText renders the sub-operation counters of a C-MOVE/C-GET response.
func subOpsText(p dimse.SubOps) string {
	return fmt.Sprintf("remaining %d, completed %d, failed %d, warning %d", p.Remaining, p.Completed, p.Failed, p.Warning)
}

// retrieveResult prints the final outcome of a C-MOVE or C-GET and returns
// the command's error: nil only for Success.
func retrieveResult(stdout io.Writer, what string, cf dimse.CommandField, ops dimse.SubOps, st dimse.Status, err error) error {
	if err != nil && !isStatusErr(err) {
		return err // no final response: the counts mean nothing
	}
	fmt.Fprintf(stdout, "%s: %s; status 0x%04X (%s)\n", what, subOpsText(ops), uint16(st), st.Meaning(cf))
	if len(ops.FailedSOPInstanceUIDs) > 0 {
		fmt.Fprintf(stdout, "failed instances: %s\n", strings.Join(ops.FailedSOPInstanceUIDs, " "))
	}
	return err
}
