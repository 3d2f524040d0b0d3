// Package pipeline is the per-instance transform of the secure archive:
// one DICOM instance (its canonical Part-10 bytes) in, N = 4 share objects
// out, one per share store, and back. Any K of the 4 rebuild the instance
// (K = 2 by default); fewer than K reveal nothing about it, even with the
// node's key-encryption key (KEK).
//
// # Stages (Encode)
//
//  1. SHA-256 of the plaintext, computed once, in order, while the codec
//     works on the blocks already read.
//  2. Compression: the codec is recorded per object. CodecZstd is
//     klauspost/compress zstd at SpeedFastest (pooled encoders,
//     concurrency 1, no frame checksum); CodecNone stores as is.
//     CodecAuto (the default) reads the first 1 MiB, compresses it, and
//     keeps zstd only if that chunk shrinks by at least MinRatio (1.05);
//     callers pass CodecNone for encapsulated transfer syntaxes.
//     CodecS2 (klauspost/compress S2, stream format, 1 MiB blocks) is the
//     fast option (Params.Compressor for CodecAuto): ~4× less CPU than
//     zstd's fastest level. Either may follow a byte shuffle of each 1 MiB
//     block (even bytes, then odd bytes: CodecZstdShuffle,
//     CodecS2Shuffle), which CodecAuto applies when a 32 KiB sample says
//     it pays — 16-bit images: on a CT slice zstd goes from ratio 2.05 to
//     2.60 and ~1.7× faster, S2 from 1.36 to 2.24 (shuffle.go). An
//     instance of ≤ 1 MiB (a CT slice) is compressed in one EncodeAll call
//     and gets one AEAD segment of its own size (rounded up to 4 KiB), so
//     small instances need small buffers and their shares carry no padding.
//     A larger instance compressed with zstd is a sequence of independent
//     zstd frames, four per 1 MiB block (its quarters, or with the shuffle
//     the halves of its two byte planes), compressed in parallel
//     (frames.go); the decoder reads a sequence of frames as one stream,
//     so objects written as one frame (before) or as many decode alike.
//  3. Encryption: a fresh random 256-bit data key (DEK) per object; the
//     compressed stream is sealed with crypto.NewSealWriter (STREAM
//     construction, AES-256-GCM, 1 MiB segments, counter||last-flag nonces)
//     with the common header (below) as associated data.
//  4. Erasure coding: the sealed stream is cut into stripes of
//     segment size + 16 bytes (one sealed segment per stripe); each stripe
//     is split into K data shards (the last zero-padded) and N−K parity
//     shards with klauspost/reedsolomon (systematic: share i < K holds
//     ciphertext bytes as is). K = 4 is the plain split: no parity, every
//     share needed.
//  5. Key shares: crypto.SplitSecret(DEK, 4, K); key share i is wrapped
//     with the KEK (Keyring.Wrap, AAD = common header ‖ i) and stored in
//     share i's header. The DEK is never stored; the index holds no key
//     material. With a shred key (Params.ShredKey, the opt-in
//     crypto-shredding mode), key share i is first sealed under the
//     object's shred key (crypto.ShredSeal, same AAD) and the header
//     carries FlagShredSealed; the shred key lives in a key store beside
//     the KEK, never in a share or the index (ShredWrapper).
//
// Decode runs the stages backwards over any K shares, reading them in lock
// step (memory: a few stripes, whatever the instance size).
//
// # Share object format, version 1
//
// All integers are big-endian. Offsets in bytes.
//
//	common header (40 bytes, identical in the 4 shares; AEAD associated data)
//	  0   4  magic "SPS1"
//	  4   1  format version = 1
//	  5   1  n = 4 (shares)
//	  6   1  k = 2, 3 or 4 (data shards, threshold)
//	  7   1  codec: 1 none, 2 zstd, 3 s2, 4 zstd+shuffle, 5 s2+shuffle
//	  8  16  object ID (random; links the 4 shares, nothing else)
//	 24   4  segment size S (AEAD plaintext segment), 1 KiB..16 MiB
//	 28   4  stripe size = S + 16
//	 32   4  Shamir X coordinate of the key share of share 0, 1, 2, 3
//	 36   1  flags: bit 0 = FlagShredSealed; other bits zero
//	 37   3  reserved, zero
//	share header (67 bytes; 95 with FlagShredSealed)
//	 40   1  share index i (0..k−1 data, k..3 parity)
//	 41   4  KEK version that wrapped the key share
//	 45   2  length L of the wrapped key share: 60, or 88 with FlagShredSealed
//	 47   L  wrapped key share, without the flag:
//	           nonce(12) ‖ AES-256-GCM(KEK, Y_i)(32) ‖ tag(16)
//	         with FlagShredSealed:
//	           nonce(12) ‖ AES-256-GCM(KEK, S_i)(60) ‖ tag(16), where
//	           S_i = nonce(12) ‖ AES-256-GCM(shred key, Y_i)(32) ‖ tag(16)
//	records, one per stripe
//	      4  m = ciphertext bytes in this stripe, 1..stripe size
//	 ceil(m/k)  shard i of the stripe
//	end record
//	      4  0
//	      8  plaintext size
//	      8  compressed size
//	      8  ciphertext size
//	end of object (any further byte is an error)
//
// Nothing in a share derives from the instance: no "DICM", UID or name;
// sizes are the only thing a store learns. ParseHeader is strict (every
// field and reserved byte checked, fuzzed); the header is authenticated
// when its key share unwraps (the common header is in the wrap AAD) and
// again by every AEAD segment. Record lengths and the trailer are not
// authenticated on their own: a changed length breaks the AEAD stream (the
// record framing decides the ciphertext bytes, and STREAM detects any
// truncation, extension or reordering) and each trailer size is compared
// with what was decoded. Everything needed to rebuild the instance — and
// so the index, by `reindex` — is inside any K shares plus the KEK; for a
// shred-sealed object, plus its shred key (looked up by the object ID of
// the header). Objects written before the flag existed have byte 36 = 0
// and parse and decode as they always did; a reader that predates the flag
// refuses a shred-sealed object (reserved bytes not zero) instead of
// misreading it.
//
// # Reads and corrupt shares
//
// The archive checks each share's SHA-256 against the index when it has
// one; Decode does not need it. A corrupt shard makes AES-GCM fail
// (crypto.ErrAuth) for the subset holding it; which share was bad is not
// known from K shares alone, so the archive retries with the next subset
// (Subsets) — with K = 2 there are 6, and one without the bad share
// decodes. Header-level faults (parse errors, a key share that does not
// unwrap, a share under the wrong index) name the share (*ShareError).
//
// # Streaming versus buffering
//
// Decode writes each AEAD segment's plaintext only after the segment
// authenticated, so no unauthenticated byte ever leaves; but an object is
// authentic as a whole only at the end (the last segment, the sizes, the
// expected SHA-256). Streaming keeps memory flat and latency low, and a
// failure after bytes were sent can only be signalled by aborting the
// transfer (the DIMSE sub-operation fails). Buffering (DecodeBytes, or a
// spool file for large instances) sends nothing unverified at the price of
// memory or disk and of latency. Since every segment is authenticated with
// a per-object key, a streamed failure means tampering or a bug, not
// silent corruption; the archive chooses per call.
//
// # Repair (Rebuild)
//
// Re-splitting the DEK would change every share's header and hash. It is
// unnecessary: the K key shares read are points of the Shamir polynomial
// f (degree K−1, f(0) = DEK), so they determine f(X_i) for the missing
// share i, which Rebuild recomputes (by a shift of X, with
// crypto.CombineSecret) and wraps with the current KEK. The shard data of
// share i is recomputed stripe by stripe with Reed–Solomon. Only share i is
// rewritten; the other shares and their recorded hashes stay as they are.
// The sources are fully authenticated during the rebuild. KEK rotation
// (Rewrap) rewrites one share's header the same way: the KEK version is
// per share, outside the AEAD associated data, so shares of one object may
// be wrapped under different KEK versions. Rewrap with the bare keyring
// never needs a shred key: the KEK layer is the outer one. Rebuild of a
// shred-sealed object needs a ShredWrapper holding the object's key.
package pipeline
