package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/shardpacs/shardpacs/archive"
	"github.com/shardpacs/shardpacs/audit"
	"github.com/shardpacs/shardpacs/config"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dimse"
)

// serveStore serves C-STORE (PS3.4 B.2.2): the instance goes into the
// archive as received, and the archive's outcome becomes the status of the
// package documentation's table. A success is counted in the audit
// trail's DICOM Instances Transferred event of the association and study
// (action R for an identical resend).
func (n *Node) serveStore(ctx context.Context, req *dimse.StoreRequest) error {
	if !n.allowed(req.Assoc, config.PermStore) {
		return n.refuse(req.Assoc, config.PermStore, "C-STORE")
	}
	in := &archive.Instance{
		SOPClassUID:       req.SOPClassUID,
		SOPInstanceUID:    req.SOPInstanceUID,
		TransferSyntaxUID: req.TransferSyntaxUID,
		SourceAE:          req.Assoc.CallingAETitle,
	}
	if req.DataSet != nil {
		in.DataSet, in.Size = req.DataSet, req.DataSet.Size()
	} else {
		in.DataSet = bytes.NewReader(nil)
	}
	out, err := n.arch.Store(ctx, in)
	if err != nil {
		if errors.Is(err, archive.ErrDuplicateDifferent) {
			// Adversarial row 26: an attempt to overwrite a stored
			// instance is refused and is a Security Alert.
			n.auditLog(audit.RestrictedFunction(req.Assoc.CallingAETitle, req.Assoc.RemoteAddr,
				fmt.Sprintf("C-STORE of SOP Instance UID %s, already stored with different content (duplicates = keep-first): refused", req.SOPInstanceUID)))
		}
		return storeStatus(err)
	}
	if out == archive.Duplicate {
		n.log.Debug().Str("sop_instance_uid", req.SOPInstanceUID).Msg("node: identical instance already stored")
	}
	if n.audit != nil {
		rec, err := n.arch.Lookup(ctx, req.SOPInstanceUID)
		if err != nil {
			n.log.Warn().Err(err).Msg("node: stored instance not found for the audit trail")
		}
		n.auditStored(req.Assoc, rec, out == archive.Duplicate)
	}
	return nil
}

// storeStatus maps an archive.Store error to exactly one C-STORE status
// (PS3.4 B.2.3); the cause stays in StatusError.Err, for the log only.
func storeStatus(err error) error {
	se := &dimse.StatusError{Err: err}
	switch {
	case errors.Is(err, archive.ErrSOPMismatch):
		se.Status, se.Comment = dimse.StatusDataSetDoesNotMatchSOPClass, "SOP class or instance UID differs from the data set"
		se.Offending = []dimse.Tag{dimse.TagAffectedSOPClassUID, dimse.TagAffectedSOPInstanceUID}
	case errors.Is(err, archive.ErrInvalidUID):
		se.Status, se.Comment = dimse.StatusInvalidAttributeValue, "required UID missing or invalid"
	case errors.Is(err, archive.ErrDuplicateDifferent):
		se.Status, se.Comment = dimse.StatusDuplicateDifferentContent, "SOP instance UID already stored with other content"
	case isDepthLimit(err):
		se.Status, se.Comment = dimse.StatusNestingTooDeep, "sequences nested deeper than limits.max_sequence_depth"
	case errors.Is(err, archive.ErrOutOfResources):
		se.Status, se.Comment = dimse.StatusOutOfResources, outOfResourcesComment(err)
	case errors.Is(err, archive.ErrClosed):
		se.Status, se.Comment = dimse.StatusOutOfResources, "archive is shutting down"
	case errors.Is(err, dcm.ErrFormat), errors.Is(err, dcm.ErrTransferSyntax):
		se.Status, se.Comment = dimse.StatusDataSetUnparsable, "data set cannot be parsed"
	default:
		var ide *archive.InvalidDataSetError
		if errors.As(err, &ide) {
			se.Status, se.Comment = dimse.StatusDataSetUnparsable, "data set cannot be parsed"
		} else {
			se.Status, se.Comment = dimse.StatusInternalError, "internal error"
		}
	}
	return se
}

// isDepthLimit reports whether err is dcm's sequence depth limit:
// adversarial row 21 wants a 0xCxxx status for it, not the 0xA700 of the
// size limits.
func isDepthLimit(err error) bool { return errors.Is(err, dcm.ErrDepth) }

func outOfResourcesComment(err error) string {
	var qe *archive.QuorumError
	switch {
	case errors.As(err, &qe):
		return "too few share stores accepted the instance"
	case errors.Is(err, dcm.ErrLimit):
		return "data set exceeds a configured limit"
	}
	return "out of resources"
}
