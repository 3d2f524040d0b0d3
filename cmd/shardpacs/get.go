package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/shardpacs/shardpacs/dcm"
	"github.com/shardpacs/shardpacs/dcm/uid"
	"github.com/shardpacs/shardpacs/dimse"
	"github.com/shardpacs/shardpacs/dimse/ul"
)

func init() {
	register(&command{name: "get", summary: "C-GET: retrieve matching instances into a folder as DICOM files", run: runGet})
}

// getImageClasses are the storage SOP classes a C-GET proposes by default
// (with the SCP role, PS3.4 C.4.3.3): the common image and document
// classes, each in an uncompressed and a compressed context. One
// association carries at most 128 contexts (PS3.8 9.3.2.2), far fewer than
// the 196 storage classes: --sop-class replaces this list.
var getImageClasses = []string{
	uid.ComputedRadiographyImageStorage, uid.DigitalXRayImageStorageForPresentation, uid.DigitalXRayImageStorageForProcessing,
	uid.DigitalMammographyXRayImageStorageForPresentation, uid.DigitalMammographyXRayImageStorageForProcessing,
	uid.DigitalIntraOralXRayImageStorageForPresentation, uid.CTImageStorage, uid.EnhancedCTImageStorage,
	uid.LegacyConvertedEnhancedCTImageStorage, uid.UltrasoundMultiFrameImageStorageRetired, uid.UltrasoundMultiFrameImageStorage,
	uid.MRImageStorage, uid.EnhancedMRImageStorage, uid.EnhancedMRColorImageStorage, uid.LegacyConvertedEnhancedMRImageStorage,
	uid.NuclearMedicineImageStorageRetired, uid.UltrasoundImageStorageRetired, uid.UltrasoundImageStorage,
	uid.EnhancedUSVolumeStorage, uid.SecondaryCaptureImageStorage, uid.MultiFrameSingleBitSecondaryCaptureImageStorage,
	uid.MultiFrameGrayscaleByteSecondaryCaptureImageStorage, uid.MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
	uid.MultiFrameTrueColorSecondaryCaptureImageStorage, uid.XRayAngiographicImageStorage, uid.EnhancedXAImageStorage,
	uid.XRayRadiofluoroscopicImageStorage, uid.EnhancedXRFImageStorage, uid.XRay3DAngiographicImageStorage,
	uid.BreastTomosynthesisImageStorage, uid.NuclearMedicineImageStorage, uid.PositronEmissionTomographyImageStorage,
	uid.EnhancedPETImageStorage, uid.LegacyConvertedEnhancedPETImageStorage, uid.RTImageStorage, uid.RTDoseStorage,
	uid.VLEndoscopicImageStorage, uid.VLMicroscopicImageStorage, uid.VLPhotographicImageStorage,
	uid.VLWholeSlideMicroscopyImageStorage, uid.OphthalmicPhotography8BitImageStorage, uid.OphthalmicTomographyImageStorage,
	uid.ParametricMapStorage, uid.SegmentationStorage,
}

// getOtherClasses are proposed in an uncompressed context only: objects
// without compressible pixel data.
var getOtherClasses = []string{
	uid.GrayscaleSoftcopyPresentationStateStorage, uid.ColorSoftcopyPresentationStateStorage,
	uid.BasicTextSRStorage, uid.EnhancedSRStorage, uid.ComprehensiveSRStorage, uid.Comprehensive3DSRStorage,
	uid.KeyObjectSelectionDocumentStorage, uid.MammographyCADSRStorage, uid.XRayRadiationDoseSRStorage,
	uid.EncapsulatedPDFStorage, uid.EncapsulatedCDAStorage, uid.RTStructureSetStorage, uid.RTPlanStorage,
	uid.RTIonPlanStorage, uid.SpatialRegistrationStorage, uid.RawDataStorage, uid.TwelveLeadECGWaveformStorage,
	uid.GeneralECGWaveformStorage,
}

// getUncompressed and getCompressed are the transfer syntaxes of the two
// contexts proposed per class; the peer picks one of each (PS3.8
// 9.3.3.2), so an instance it holds in another compressed syntax can only
// come if it transcodes.
var (
	getUncompressed = []string{uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian}
	getCompressed   = []string{uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLosslessSV1, uid.JPEGLossless,
		uid.JPEG2000Lossless, uid.JPEG2000, uid.JPEGLSLossless, uid.JPEGLSNearLossless, uid.RLELossless,
		uid.DeflatedExplicitVRLittleEndian, uid.HTJ2KLossless, uid.HTJ2K}
)

// getProposals returns the contexts of a C-GET association: the GET model,
// then the storage classes with the SCP role. classes, when not empty,
// replaces the default list (each then gets both contexts).
func getProposals(model string, classes []string) []dimse.ContextProposal {
	props := []dimse.ContextProposal{{AbstractSyntax: model, TransferSyntaxes: getUncompressed}}
	add := func(c string, compressed bool) {
		props = append(props, dimse.ContextProposal{AbstractSyntax: c, TransferSyntaxes: getUncompressed, SCPRole: true})
		if compressed {
			props = append(props, dimse.ContextProposal{AbstractSyntax: c, TransferSyntaxes: getCompressed, SCPRole: true})
		}
	}
	if len(classes) > 0 {
		for _, c := range classes {
			add(c, true)
		}
		return props
	}
	for _, c := range getImageClasses {
		add(c, true)
	}
	for _, c := range getOtherClasses {
		add(c, false)
	}
	return props
}

// uidList is a repeatable flag of UIDs.
type uidList []string

func (u *uidList) String() string { return fmt.Sprint(*u) }

func (u *uidList) Set(s string) error {
	if !dcm.ValidUID(s) {
		return fmt.Errorf("%q is not a valid UID", s)
	}
	*u = append(*u, s)
	return nil
}

// runGet is "shardpacs get [flags] TARGET --out DIR --level SERIES -k
// ...": one C-GET (PS3.4 C.4.3); the peer sends the matches back on the
// same association as C-STORE sub-operations, each written to DIR as a
// Part-10 file named <SOP Instance UID>.dcm (PS3.10 §7.1: File Meta
// Information with the context's transfer syntax, then the data set byte
// for byte). Progress and the final counts are printed as for move;
// anything but Success is an error.
func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := newSCUFlags("get", "get [flags] HOST:PORT|PEER-AE --out DIR --level SERIES -k SeriesInstanceUID=...", stderr)
	var q queryOptions
	q.register(o.fs, levelStudy)
	out := o.fs.String("out", ".", "`DIR` to write the received instances into (created if needed)")
	quiet := o.fs.Bool("q", false, "do not print a line per received instance")
	var classes uidList
	o.fs.Var(&classes, "sop-class", "storage SOP Class `UID` to accept (repeatable; replaces the default list of common classes)")
	target, err := parseTarget(o.fs, args)
	if err != nil {
		return err
	}
	level, model, keys, err := q.resolve()
	if err != nil {
		return err
	}
	if max := (dimse.MaxProposedContexts - 1) / 2; len(classes) > max {
		return fmt.Errorf("%w: at most %d --sop-class (two contexts each, one association)", errUsage, max)
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
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	cc, err := dial(ctx, c, t, getProposals(model.get, classes))
	if err != nil {
		return err
	}
	defer release(ctx, cc)
	ts, _ := cc.TransferSyntax(model.get)
	id, err := dcm.EncodeIdentifier(identifier(level, keys, nil), ts)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	w := &partWriter{dir: *out}
	h := dimse.StoreHandlerFunc(func(ctx context.Context, req *dimse.StoreRequest) error {
		path, err := w.write(req)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %s\n", req.SOPInstanceUID, oneLine(err))
			return err
		}
		if !*quiet {
			fmt.Fprintf(stdout, "OK   %s\n", path)
		}
		return nil
	})
	var progress func(dimse.SubOps)
	if !*quiet {
		progress = func(p dimse.SubOps) { fmt.Fprintf(stdout, "pending: %s\n", subOpsText(p)) }
	}
	ops, st, err := cc.Get(ctx, model.get, id, h, progress)
	err = retrieveResult(stdout, "C-GET into "+*out, dimse.CGetRQ, ops, st, err)
	if n := w.written.Load(); err == nil || isStatusErr(err) {
		fmt.Fprintf(stdout, "%s written to %s\n", plural(int(n), "file"), *out)
	}
	return err
}

// partWriter writes the instances received by a C-GET as Part-10 files.
type partWriter struct {
	dir     string
	written atomic.Int64
}

// errBadInstanceUID: a C-STORE sub-operation whose SOP Instance UID cannot
// name a file (the dimse layer already refuses invalid UIDs; this keeps
// the file name safe whatever it does).
var errBadInstanceUID = errors.New("SOP Instance UID is not a valid UID")

// write stores req's data set as dir/<SOP Instance UID>.dcm through a
// temporary file renamed into place, so that a reader never sees half a
// file. It returns the path.
func (w *partWriter) write(req *dimse.StoreRequest) (string, error) {
	if !dcm.ValidUID(req.SOPInstanceUID) || !dcm.ValidUID(req.SOPClassUID) {
		return "", errBadInstanceUID
	}
	meta := &dcm.FileMeta{
		MediaStorageSOPClassUID:      req.SOPClassUID,
		MediaStorageSOPInstanceUID:   req.SOPInstanceUID,
		TransferSyntaxUID:            req.TransferSyntaxUID,
		ImplementationClassUID:       ul.DefaultImplementationClassUID,
		ImplementationVersionName:    ul.DefaultImplementationVersionName,
		SourceApplicationEntityTitle: req.Assoc.CalledAETitle,
	}
	final := filepath.Join(w.dir, req.SOPInstanceUID+".dcm")
	f, err := os.CreateTemp(w.dir, ".get-*.tmp")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	err = func() error {
		bw := bufio.NewWriterSize(f, 256<<10)
		if _, err := dcm.WritePart10Header(bw, meta); err != nil {
			return err
		}
		if _, err := io.Copy(bw, req.DataSet.NewReader()); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("writing %s: %w", final, err)
	}
	w.written.Add(1)
	return final, nil
}

var _ flag.Value = (*uidList)(nil)
var _ flag.Value = (*keyList)(nil)
