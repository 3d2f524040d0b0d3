package node

import (
	"errors"
	"strconv"
	"strings"

	"github.com/shardpacs/shardpacs/archive/index"
	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
)

// request is a decoded C-FIND / C-MOVE / C-GET identifier (PS3.4 C.4.1.1.3).
type request struct {
	root  index.Root
	level index.Level
	elems []dcm.Element
}

// decodeRequest decodes req's identifier and checks its information model
// and QueryRetrieveLevel.
func (n *Node) decodeRequest(req *dimse.QueryRequest) (*request, error) {
	r := &request{}
	switch req.SOPClassUID {
	case uid.PatientRootQRFind, uid.PatientRootQRMove, uid.PatientRootQRGet:
		r.root = index.PatientRoot
	case uid.StudyRootQRFind, uid.StudyRootQRMove, uid.StudyRootQRGet:
		r.root = index.StudyRoot
	default:
		return nil, &dimse.StatusError{Status: dimse.StatusSOPClassNotSupported, Comment: "information model not supported"}
	}
	elems, err := dcm.DecodeIdentifier(req.Identifier, req.TransferSyntaxUID, n.identLimits())
	if isDepthLimit(err) {
		return nil, &dimse.StatusError{Status: dimse.StatusNestingTooDeep, Comment: "identifier nested deeper than limits.max_sequence_depth", Err: err}
	}
	if err != nil {
		return nil, &dimse.StatusError{Status: dimse.StatusDataSetUnparsable, Comment: "identifier cannot be parsed", Err: err}
	}
	r.elems = elems
	found := false
	for _, e := range elems {
		if e.Tag == dcm.TagQueryRetrieveLevel {
			found = true
			r.level = index.Level(strings.TrimSpace(e.Value))
		}
	}
	qrl := []dimse.Tag{dimse.Tag(dcm.TagQueryRetrieveLevel)}
	switch {
	case !found || r.level == "":
		return nil, &dimse.StatusError{Status: dimse.StatusUnableToProcess, Comment: "QueryRetrieveLevel missing", Offending: qrl}
	case r.level != index.LevelPatient && r.level != index.LevelStudy && r.level != index.LevelSeries && r.level != index.LevelImage:
		return nil, &dimse.StatusError{Status: dimse.StatusUnableToProcess, Comment: "QueryRetrieveLevel unknown", Offending: qrl}
	case r.root == index.StudyRoot && r.level == index.LevelPatient:
		return nil, &dimse.StatusError{Status: dimse.StatusIdentifierDoesNotMatchSOPClass,
			Comment: "no PATIENT level in the Study Root model", Offending: qrl}
	}
	return r, nil
}

// value returns the trimmed value of tag in the identifier and whether it
// is present.
func (r *request) value(t dcm.Tag) (string, bool) {
	for _, e := range r.elems {
		if e.Tag == t {
			return strings.Trim(e.Value, " \x00"), true
		}
	}
	return "", false
}

// queryStatus maps an index query error to a C-FIND status (PS3.4
// C.4.1.1.4).
func queryStatus(err error, limit int) error {
	var qe *index.QueryError
	switch {
	case errors.Is(err, index.ErrTooManyMatches):
		return &dimse.StatusError{Status: dimse.StatusOutOfResources,
			Comment: "more than " + strconv.Itoa(limit) + " matches: refine the query", Err: err}
	case errors.As(err, &qe):
		se := &dimse.StatusError{Status: dimse.StatusUnableToProcess, Comment: "invalid query key", Err: err}
		if qe.Tag != 0 {
			se.Offending = []dimse.Tag{dimse.Tag(qe.Tag)}
		}
		switch {
		case errors.Is(err, index.ErrKeyBelowLevel):
			se.Status, se.Comment = dimse.StatusIdentifierDoesNotMatchSOPClass, "matching key below the query level"
		case errors.Is(err, index.ErrTooManyKeys):
			se.Comment = "more than " + strconv.Itoa(index.MaxQueryKeys) + " keys"
		}
		return se
	}
	return err
}
