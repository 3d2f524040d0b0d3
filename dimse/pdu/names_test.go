package pdu

import (
	"errors"
	"testing"
)

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{TypeAssociateRQ.String(), "A-ASSOCIATE-RQ"},
		{TypeAssociateAC.String(), "A-ASSOCIATE-AC"},
		{TypeAssociateRJ.String(), "A-ASSOCIATE-RJ"},
		{TypePDataTF.String(), "P-DATA-TF"},
		{TypeReleaseRQ.String(), "A-RELEASE-RQ"},
		{TypeReleaseRP.String(), "A-RELEASE-RP"},
		{TypeAbort.String(), "A-ABORT"},
		{Type(0x16).String(), "PDU-type 0x16"},
		{ContextAccepted.String(), "acceptance"},
		{ContextUserRejection.String(), "user-rejection"},
		{ContextNoReason.String(), "no-reason"},
		{ContextAbstractSyntaxNotSupported.String(), "abstract-syntax-not-supported"},
		{ContextTransferSyntaxesNotSupported.String(), "transfer-syntaxes-not-supported"},
		{ContextResult(9).String(), "result 9"},
		{RejectPermanent.String(), "permanent"},
		{RejectTransient.String(), "transient"},
		{SourceServiceUser.String(), "service-user"},
		{SourceServiceProviderACSE.String(), "service-provider-ACSE"},
		{SourceServiceProviderPresentation.String(), "service-provider-presentation"},
		{RejectReason(1).String(SourceServiceUser), "no-reason-given"},
		{RejectReason(2).String(SourceServiceUser), "application-context-name-not-supported"},
		{RejectReason(3).String(SourceServiceUser), "calling-AE-title-not-recognized"},
		{RejectReason(7).String(SourceServiceUser), "called-AE-title-not-recognized"},
		{RejectReason(4).String(SourceServiceUser), "reserved (4)"},
		{RejectReason(1).String(SourceServiceProviderACSE), "no-reason-given"},
		{RejectReason(2).String(SourceServiceProviderACSE), "protocol-version-not-supported"},
		{RejectReason(3).String(SourceServiceProviderACSE), "reserved (3)"},
		{RejectReason(1).String(SourceServiceProviderPresentation), "temporary-congestion"},
		{RejectReason(2).String(SourceServiceProviderPresentation), "local-limit-exceeded"},
		{RejectReason(7).String(SourceServiceProviderPresentation), "reserved (7)"},
		{RejectReason(1).String(RejectSource(9)), "reserved (1)"},
		{AbortServiceUser.String(), "service-user"},
		{AbortReserved.String(), "reserved"},
		{AbortServiceProvider.String(), "service-provider"},
		{AbortNotSpecified.String(), "reason-not-specified"},
		{AbortUnrecognizedPDU.String(), "unrecognized-PDU"},
		{AbortUnexpectedPDU.String(), "unexpected-PDU"},
		{AbortUnrecognizedParameter.String(), "unrecognized-PDU-parameter"},
		{AbortUnexpectedParameter.String(), "unexpected-PDU-parameter"},
		{AbortInvalidParameterValue.String(), "invalid-PDU-parameter-value"},
		{AbortReason(3).String(), "reserved (3)"},
		{(&AssociateRJ{Result: 1, Source: 1, Reason: 7}).Error(),
			"pdu: association rejected (permanent, service-user: called-AE-title-not-recognized)"},
		{(&AssociateRJ{Result: 2, Source: 3, Reason: 1}).Error(),
			"pdu: association rejected (transient, service-provider-presentation: temporary-congestion)"},
		{(&Abort{Source: 2, Reason: 6}).Error(), "pdu: association aborted (service-provider: invalid-PDU-parameter-value)"},
		{(&Abort{Source: 0, Reason: 6}).Error(), "pdu: association aborted (service-user)"},
		{(&DecodeError{Reason: 6, Msg: "x"}).Error(), "pdu: x"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestProtocolErrorsAsErrors: RJ and A-ABORT travel as errors and are
// recovered with errors.As.
func TestProtocolErrorsAsErrors(t *testing.T) {
	var err error = &AssociateRJ{Result: 1, Source: 1, Reason: 3}
	wrapped := errors.Join(errors.New("dial"), err)
	var rj *AssociateRJ
	if !errors.As(wrapped, &rj) || rj.Reason != RejectUserCallingAENotRecognized {
		t.Fatal("AssociateRJ not recovered")
	}
	err = &Abort{Source: AbortServiceProvider, Reason: AbortUnexpectedPDU}
	var ab *Abort
	if !errors.As(errors.Join(err), &ab) || ab.Reason != AbortUnexpectedPDU {
		t.Fatal("Abort not recovered")
	}
}
