// Package config is the one typed configuration of shardpacs: the serve
// command and every other subcommand read the same settings, from (lowest
// precedence first) the built-in defaults, a TOML file, SHARDPACS_*
// environment variables and command-line flags.
//
//	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
//	path := fs.String("config", os.Getenv("SHARDPACS_CONFIG"), "TOML configuration file")
//	config.Default().RegisterFlags(fs)
//	if err := fs.Parse(args); err != nil { ... }
//	cfg, err := config.LoadAll(*path, os.Getenv, fs) // file < env < flags, then Validate
//
// # Derived defaults
//
// KEKFile, Stores, SpoolDir and Log.AuditFile default to locations inside
// DataDir, and ShredKeyFile to one beside the KEK file. They are left empty
// in the struct ("derive it") and resolved by the accessors KEKPath,
// ShredKeyPath, StorePaths, SpoolPath and AuditPath at use, so a DataDir
// given by a flag moves all of them; nothing is written back. Use
// Effective for a copy with every derived value filled in (for display).
//
// # Environment variables
//
// Every setting can be set from the environment. The name is SHARDPACS_
// followed by the TOML key path in upper case with "." replaced by "_",
// except data_dir, which is SHARDPACS_DATA. An empty variable counts as
// unset. Lists are comma-separated. The full table:
//
//	ae_title                        SHARDPACS_AE_TITLE
//	listen                          SHARDPACS_LISTEN
//	data_dir                        SHARDPACS_DATA
//	kek_file                        SHARDPACS_KEK_FILE
//	shred_keys                      SHARDPACS_SHRED_KEYS
//	shred_key_file                  SHARDPACS_SHRED_KEY_FILE
//	stores                          SHARDPACS_STORES            (4 paths, comma-separated)
//	k                               SHARDPACS_K
//	read_hedge                      SHARDPACS_READ_HEDGE
//	compression                     SHARDPACS_COMPRESSION
//	duplicates                      SHARDPACS_DUPLICATES
//	accept_any_called_ae            SHARDPACS_ACCEPT_ANY_CALLED_AE
//	unknown_calling_ae              SHARDPACS_UNKNOWN_CALLING_AE
//	spool_dir                       SHARDPACS_SPOOL_DIR
//	peers                           SHARDPACS_PEERS             ("AE=host:port,AE2=host:port", merged)
//	limits.max_associations         SHARDPACS_LIMITS_MAX_ASSOCIATIONS
//	limits.max_associations_per_ae  SHARDPACS_LIMITS_MAX_ASSOCIATIONS_PER_AE
//	limits.max_pdu_length           SHARDPACS_LIMITS_MAX_PDU_LENGTH
//	limits.max_associate_rq_length  SHARDPACS_LIMITS_MAX_ASSOCIATE_RQ_LENGTH
//	limits.max_data_set_size        SHARDPACS_LIMITS_MAX_DATA_SET_SIZE
//	limits.spool_threshold          SHARDPACS_LIMITS_SPOOL_THRESHOLD
//	limits.max_sequence_depth       SHARDPACS_LIMITS_MAX_SEQUENCE_DEPTH
//	limits.max_inflated_size        SHARDPACS_LIMITS_MAX_INFLATED_SIZE
//	limits.max_find_results         SHARDPACS_LIMITS_MAX_FIND_RESULTS
//	limits.artim_timeout            SHARDPACS_LIMITS_ARTIM_TIMEOUT
//	limits.idle_timeout             SHARDPACS_LIMITS_IDLE_TIMEOUT
//	limits.operation_timeout        SHARDPACS_LIMITS_OPERATION_TIMEOUT
//	limits.dial_timeout             SHARDPACS_LIMITS_DIAL_TIMEOUT
//	limits.shutdown_timeout         SHARDPACS_LIMITS_SHUTDOWN_TIMEOUT
//	tls.listen                      SHARDPACS_TLS_LISTEN
//	tls.cert_file                   SHARDPACS_TLS_CERT_FILE
//	tls.key_file                    SHARDPACS_TLS_KEY_FILE
//	tls.ca_file                     SHARDPACS_TLS_CA_FILE
//	tls.require_client_cert         SHARDPACS_TLS_REQUIRE_CLIENT_CERT
//	log.level                       SHARDPACS_LOG_LEVEL
//	log.format                      SHARDPACS_LOG_FORMAT
//	log.audit_file                  SHARDPACS_LOG_AUDIT_FILE
//
// Sizes accept a byte count or a number with a unit (KiB, MiB, GiB, TiB, or
// the decimal kB, MB, GB, TB): "64KiB", "4 GiB". Durations use Go syntax:
// "30s", "5m", "1h30m".
//
// Errors are prefixed "config: " and name the setting (by TOML key, env
// variable or flag) and the reason. Nothing in this package logs.
package config
