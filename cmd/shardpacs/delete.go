package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/audit"
)

func init() {
	register(&command{name: "delete", summary: "delete stored instances and their shares (--patient | --study | --series | --instance, --yes)", run: runDelete})
}

// runDelete removes a patient, study, series or instance: its index rows
// and its share objects in every store (archive.Delete). Each study
// touched is recorded in the audit trail as DICOM Study Deleted (110105,
// PS3.15 A.5.3.9); a deletion that cannot be audited is not done. What a
// deletion guarantees for copies of the stores made before it (backups,
// snapshots) is in docs/security.md. Like `keys`, run it with the node
// stopped: a running node keeps its own view of in-flight work.
func runDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newArchiveFlags("delete", "delete (--patient ID | --study UID | --series UID | --instance UID) --yes", stderr)
	var lf levelFlags
	lf.register(o.fs, "delete")
	yes := o.fs.Bool("yes", false, "really delete (the command refuses without it)")
	rest, err := parseArgs(o.fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	level, key, ok := lf.selected()
	if !ok {
		return fmt.Errorf("%w: give exactly one of --patient, --study, --series, --instance", errUsage)
	}
	if !*yes {
		return fmt.Errorf("%w: deleting is permanent; add --yes", errUsage)
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	al, err := openAudit(cfg)
	if err != nil {
		return err
	}
	defer al.Close()
	a, err := openArchive(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	recs, err := a.Instances(ctx, level, key)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("no instance found")
	}
	type study struct {
		patientID string
		n         int
	}
	studies := map[string]*study{}
	for _, r := range recs {
		s := studies[r.StudyInstanceUID]
		if s == nil {
			s = &study{patientID: r.PatientID}
			studies[r.StudyInstanceUID] = s
		}
		s.n++
	}
	n, err := a.Delete(ctx, level, key)
	if n > 0 {
		uids := make([]string, 0, len(studies))
		for u := range studies {
			uids = append(uids, u)
		}
		sort.Strings(uids)
		user := os.Getenv("USER")
		for _, u := range uids {
			if aerr := al.Log(audit.StudyDeleted(user, u, studies[u].patientID, studies[u].n)); aerr != nil {
				fmt.Fprintf(stderr, "warning: the deletion is done but could not be audited: %v\n", aerr)
			}
		}
	}
	if errors.Is(err, archive.ErrShredPending) {
		fmt.Fprintf(stdout, "deleted %d instances\n", n)
		return fmt.Errorf("%w; run shardpacs verify --gc once the key store is writable", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted %d instances\n", n)
	return nil
}
