package uid

// ImplementationClassUID identifies shardpacs: it is sent in every
// association negotiation (PS3.7 D.3.3.2) and written into the File Meta
// Information of every instance the archive keeps (PS3.10 7.1). It is a
// UUID-derived UID (PS3.5 B.2: "2.25." and the decimal value of a random
// UUID, here ee50cb7a-4b01-4b34-a29b-de3ce167d76c), which needs no
// registered organisational root and is unique without one. It never
// changes between versions; ImplementationVersionName does.
const ImplementationClassUID = "2.25.316775773763691071801588372805849175916"

// ImplementationVersionName is sent and written with ImplementationClassUID
// (PS3.7 D.3.3.2.2; at most 16 characters).
const ImplementationVersionName = "SHARDPACS_01"
