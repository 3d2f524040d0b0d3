// Package crypto holds the cryptographic primitives of the shardpacs secure
// archive (docs/design-brief.md §3–4):
//
//   - a streaming AEAD (AES-256-GCM in segments, the STREAM construction of
//     Hoang, Reyhanitabar, Rogaway and Vizár, as used by Tink and age) that
//     encrypts one stored instance under a fresh random data key (DEK) and
//     fails closed on reading: no byte of a segment is released before that
//     segment authenticated (NewSealWriter, NewOpenReader, SealedSize);
//   - Shamir's secret sharing over GF(2^8) with the AES polynomial, used to
//     split the DEK into one share per store so that fewer than k stores
//     learn nothing about it (SplitSecret, CombineSecret);
//   - the node master key (KEK) keyring: versioned 256-bit keys kept in a
//     0600 file outside the stores, used to wrap key shares with
//     AES-256-GCM (Keyring, CreateKeyring, LoadKeyring, Wrap, Unwrap,
//     Rotate, Retire);
//   - the opt-in crypto-shredding layer: a per-instance shred key that
//     seals each key share before the KEK wraps it (NewShredKey, ShredSeal,
//     ShredOpen); the keys themselves live in archive/shredkeys.
//
// Nothing here derives key material from patient data: every key comes from
// a random source, crypto/rand.Reader unless a caller injects another one
// (tests do, to be repeatable). The package never logs.
//
// The package name shadows the standard library's crypto; callers import it
// under an alias, e.g. spcrypto "github.com/shardpacs/shardpacs/crypto".
package crypto
