package pdu

import "strconv"

// String returns the standard name of the PDU type, e.g. "A-ASSOCIATE-RQ"
// (PS3.8 9.3.1), or "PDU-type 0x08" for an unknown one.
func (t Type) String() string {
	switch t {
	case TypeAssociateRQ:
		return "A-ASSOCIATE-RQ"
	case TypeAssociateAC:
		return "A-ASSOCIATE-AC"
	case TypeAssociateRJ:
		return "A-ASSOCIATE-RJ"
	case TypePDataTF:
		return "P-DATA-TF"
	case TypeReleaseRQ:
		return "A-RELEASE-RQ"
	case TypeReleaseRP:
		return "A-RELEASE-RP"
	case TypeAbort:
		return "A-ABORT"
	}
	return "PDU-type 0x" + hex2(uint8(t))
}

// String returns the PS3.8 Table 9-18 name of the result, e.g.
// "abstract-syntax-not-supported".
func (r ContextResult) String() string {
	switch r {
	case ContextAccepted:
		return "acceptance"
	case ContextUserRejection:
		return "user-rejection"
	case ContextNoReason:
		return "no-reason"
	case ContextAbstractSyntaxNotSupported:
		return "abstract-syntax-not-supported"
	case ContextTransferSyntaxesNotSupported:
		return "transfer-syntaxes-not-supported"
	}
	return "result " + strconv.Itoa(int(r))
}

// String returns "permanent" or "transient".
func (r RejectResult) String() string {
	switch r {
	case RejectPermanent:
		return "permanent"
	case RejectTransient:
		return "transient"
	}
	return "result " + strconv.Itoa(int(r))
}

// String returns "service-user", "service-provider-ACSE" or
// "service-provider-presentation".
func (s RejectSource) String() string {
	switch s {
	case SourceServiceUser:
		return "service-user"
	case SourceServiceProviderACSE:
		return "service-provider-ACSE"
	case SourceServiceProviderPresentation:
		return "service-provider-presentation"
	}
	return "source " + strconv.Itoa(int(s))
}

// String names the reason as PS3.8 9.3.4 does for the given source, e.g.
// RejectReason(7).String(SourceServiceUser) is
// "called-AE-title-not-recognized". Reserved values read "reserved (n)".
//
// RejectReason deliberately has no String() method: a reason means nothing
// without its source.
func (r RejectReason) String(source RejectSource) string {
	switch source {
	case SourceServiceUser:
		switch r {
		case RejectUserNoReason:
			return "no-reason-given"
		case RejectUserAppContextNotSupported:
			return "application-context-name-not-supported"
		case RejectUserCallingAENotRecognized:
			return "calling-AE-title-not-recognized"
		case RejectUserCalledAENotRecognized:
			return "called-AE-title-not-recognized"
		}
	case SourceServiceProviderACSE:
		switch r {
		case RejectACSENoReason:
			return "no-reason-given"
		case RejectACSEProtocolVersionNotSupported:
			return "protocol-version-not-supported"
		}
	case SourceServiceProviderPresentation:
		switch r {
		case RejectPresentationTemporaryCongestion:
			return "temporary-congestion"
		case RejectPresentationLocalLimitExceeded:
			return "local-limit-exceeded"
		}
	}
	return "reserved (" + strconv.Itoa(int(r)) + ")"
}

// Error returns e.g. "pdu: association rejected (permanent, service-user:
// called-AE-title-not-recognized)".
func (rj *AssociateRJ) Error() string {
	return "pdu: association rejected (" + rj.Result.String() + ", " +
		rj.Source.String() + ": " + rj.Reason.String(rj.Source) + ")"
}

// String returns "service-user", "reserved" or "service-provider".
func (s AbortSource) String() string {
	switch s {
	case AbortServiceUser:
		return "service-user"
	case AbortReserved:
		return "reserved"
	case AbortServiceProvider:
		return "service-provider"
	}
	return "source " + strconv.Itoa(int(s))
}

// String returns the PS3.8 9.3.8 name of the reason, e.g.
// "invalid-PDU-parameter-value".
func (r AbortReason) String() string {
	switch r {
	case AbortNotSpecified:
		return "reason-not-specified"
	case AbortUnrecognizedPDU:
		return "unrecognized-PDU"
	case AbortUnexpectedPDU:
		return "unexpected-PDU"
	case AbortUnrecognizedParameter:
		return "unrecognized-PDU-parameter"
	case AbortUnexpectedParameter:
		return "unexpected-PDU-parameter"
	case AbortInvalidParameterValue:
		return "invalid-PDU-parameter-value"
	}
	return "reserved (" + strconv.Itoa(int(r)) + ")"
}

// Error returns e.g. "pdu: association aborted (service-provider:
// invalid-PDU-parameter-value)". The reason is shown only for a
// service-provider abort, where it is significant.
func (a *Abort) Error() string {
	if a.Source != AbortServiceProvider {
		return "pdu: association aborted (" + a.Source.String() + ")"
	}
	return "pdu: association aborted (" + a.Source.String() + ": " + a.Reason.String() + ")"
}

func hex2(b uint8) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&0x0F]})
}
