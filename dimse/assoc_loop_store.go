package dimse

// serveStore serves a C-STORE-RQ (PS3.4 B.2.2) on the loop goroutine and
// returns the handler's verdict for the C-STORE-RSP (see StoreHandler), or
// the panic the handler raised.
func (l *assocLoop) serveStore(msg *Message, readErr error) (err error, panicked *PanicError) {
	if err := l.checkErr(msg, readErr); err != nil {
		return err, nil
	}
	if l.s.Store == nil {
		return &StatusError{Status: StatusSOPClassNotSupported, Comment: "storage not supported"}, nil
	}
	cmd := msg.Command
	pc, _ := l.a.ContextByID(msg.ContextID)
	req := &StoreRequest{
		Assoc:                 l.info,
		Command:               cmd,
		ContextID:             msg.ContextID,
		SOPClassUID:           cmd.AffectedSOPClassUID,
		SOPInstanceUID:        cmd.AffectedSOPInstanceUID,
		TransferSyntaxUID:     pc.TransferSyntax,
		MoveOriginatorAETitle: cmd.MoveOriginatorApplicationEntityTitle,
		DataSet:               msg.Data,
	}
	if req.DataSet == nil {
		req.DataSet = NewDataSet(nil)
	}
	if cmd.MoveOriginatorMessageID != nil {
		req.MoveOriginatorMessageID = *cmd.MoveOriginatorMessageID
	}
	defer recoverPanic(&panicked)
	return l.s.Store.ServeStore(l.ctx, req), nil
}
