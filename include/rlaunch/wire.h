/* The coordinator's wire format. Pure encode/decode, no I/O.
 *
 * Frame: u32 length (big endian) of what follows, u8 type, payload. Every
 * field is fixed-width big-endian or a u16-length-prefixed string; decoders
 * check every length against what is left and reject trailing bytes, so a
 * stranger's garbage is an error, never a crash or an over-read. Before a
 * peer has authenticated, frames longer than RL_WIRE_MAX_PREAUTH are refused.
 */
#ifndef RLAUNCH_WIRE_H
#define RLAUNCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rlaunch/roster.h"

#define RL_WIRE_VERSION 1
#define RL_WIRE_HEADER 5
#define RL_WIRE_MAX_PREAUTH 1100 /* room for a MUNGE credential, nothing more */
#define RL_WIRE_MAX_FRAME (4u << 20)
#define RL_NONCE_LEN 32
#define RL_MAC_LEN 32
#define RL_RUN_ID_MAX 128
#define RL_REASON_MAX 400
#define RL_MAX_NODES 65536
/* A peer silent this long during the job is lost, even if TCP still answers
 * for it (an agent stopped with SIGSTOP, a hung host whose kernel lives on). */
#define RL_HEARTBEAT_MS 2000
#define RL_SILENCE_LIMIT_MS 10000
#define RL_WIRE_MUNGE_MAX 1000

enum rl_msg_type {
	RL_MSG_HELLO = 1,     /* S->C  version, server nonce */
	RL_MSG_AUTH,          /* C->S  version, client nonce, client mac */
	RL_MSG_AUTH_OK,       /* S->C  server mac (the client checks the server too) */
	RL_MSG_JOIN,          /* C->S  node info */
	RL_MSG_ROSTER,        /* S->C  placement: sorted node infos, master port, run id */
	RL_MSG_RANK_FAILED,   /* C->S  first failure on that node */
	RL_MSG_ABORT,         /* S->C  stop the ranks: the job failed */
	RL_MSG_SIGNAL,        /* both  a signal to pass to every rank */
	RL_MSG_ATTEMPT_DONE,  /* C->S  every local process of this attempt is gone */
	RL_MSG_RESTART,       /* S->C  start the ranks again */
	RL_MSG_FINAL,         /* S->C  the job's exit status and culprit */
	RL_MSG_REJECT,        /* S->C  why the coordinator will not take this agent */
	RL_MSG_AUTH_MUNGE,    /* C->S  version, client MUNGE credential (munge_auth.h) */
	RL_MSG_AUTH_MUNGE_OK, /* S->C  server MUNGE credential */
	/* the health check; also between a rank's worker stage and its agent */
	RL_MSG_CHECK_ADDRS,   /* both  ranks' backend addresses (some, or all) */
	RL_MSG_CHECK_RESULTS, /* up    ranks' check results */
	RL_MSG_CHECK_VERDICT, /* down  u32: 1 GO, 0 NO-GO */
	RL_MSG_EXEC_FAILED,   /* worker stage -> agent: u32 errno of execvp */
	RL_MSG_HEARTBEAT,     /* both  u32 0: "still here", during the job */
	RL_MSG_TYPE_MAX = RL_MSG_HEARTBEAT,
};

struct rl_wbuf {
	uint8_t *data;
	size_t len, cap;
	int err;            /* sticky -ENOMEM */
};

void rl_wbuf_init(struct rl_wbuf *w);
void rl_wbuf_release(struct rl_wbuf *w);
/** Append raw bytes (a seal) after the frames already in w. */
void rl_wbuf_append(struct rl_wbuf *w, const void *p, size_t n);

struct rl_msg_hello {
	uint16_t version;
	uint8_t nonce[RL_NONCE_LEN];
};

struct rl_msg_auth {
	uint16_t version;
	uint8_t nonce[RL_NONCE_LEN];
	uint8_t mac[RL_MAC_LEN];
};

/* A rank failure as the coordinator reports it. */
struct rl_wire_failure {
	int32_t rank, local_rank, node_rank;
	uint32_t pid;
	int32_t exit_code, signal, exec_error;
	int64_t sec;
	int32_t nsec;
	char host[RL_HOSTNAME_MAX + 1];
	char reason[RL_REASON_MAX + 1]; /* set when no rank failed: e.g. a node was lost */
};

struct rl_msg_roster {
	uint16_t master_port;
	char run_id[RL_RUN_ID_MAX + 1];
	uint32_t count;
	struct rl_node_info *nodes; /* decode: malloc'ed, caller frees */
};

struct rl_msg_final {
	int32_t status;
	bool has_culprit;
	struct rl_wire_failure culprit;
};

#define RL_CHECK_ADDR_MAX 256
#define RL_CHECK_MESSAGE_MAX 200

struct rl_check_addr {
	int32_t rank;
	uint16_t len;
	uint8_t bytes[RL_CHECK_ADDR_MAX];
};

enum rl_check_status {
	RL_CHECK_OK = 0,
	RL_CHECK_INIT_FAILED,   /* backend could not start (library, provider, device) */
	RL_CHECK_WRONG_DATA,    /* a result element differed from the expected sum */
	RL_CHECK_TIMEOUT,       /* a phase did not finish in time */
	RL_CHECK_COMM_FAILED,   /* the backend reported an error */
	RL_CHECK_NO_REPORT,     /* set by the coordinator: this rank never reported */
	RL_CHECK_STATUS_MAX = RL_CHECK_NO_REPORT,
};

struct rl_check_result {
	int32_t rank;
	uint32_t status;        /* enum rl_check_status */
	uint64_t node_busbw_kbps; /* intra-node phase, KB/s (0: not run) */
	uint64_t all_busbw_kbps;  /* all-ranks phase */
	int64_t bad_index;      /* first wrong element, or -1 */
	char message[RL_CHECK_MESSAGE_MAX + 1];
};

/* Each encoder appends one whole frame to w; check w->err afterwards. */
void rl_wire_put_hello(struct rl_wbuf *w, const struct rl_msg_hello *m);
void rl_wire_put_auth(struct rl_wbuf *w, const struct rl_msg_auth *m);
void rl_wire_put_auth_ok(struct rl_wbuf *w, const uint8_t mac[RL_MAC_LEN]);
void rl_wire_put_join(struct rl_wbuf *w, const struct rl_node_info *n);
void rl_wire_put_roster(struct rl_wbuf *w, const struct rl_msg_roster *m);
void rl_wire_put_failure(struct rl_wbuf *w, enum rl_msg_type type, const struct rl_wire_failure *f);
void rl_wire_put_u32(struct rl_wbuf *w, enum rl_msg_type type, uint32_t value); /* SIGNAL, ATTEMPT_DONE, RESTART */
void rl_wire_put_final(struct rl_wbuf *w, const struct rl_msg_final *m);
/** status: what the refused agent should exit with (2, 75, 77). */
void rl_wire_put_reject(struct rl_wbuf *w, int status, const char *reason);
/** A frame of this type around an already encoded payload. */
void rl_wire_put_raw(struct rl_wbuf *w, enum rl_msg_type type, const uint8_t *payload, size_t n);
void rl_wire_put_check_addrs(struct rl_wbuf *w, const struct rl_check_addr *a, size_t n);
void rl_wire_put_check_results(struct rl_wbuf *w, const struct rl_check_result *r, size_t n);
/* AUTH_MUNGE (with the version) and AUTH_MUNGE_OK (without) */
void rl_wire_put_munge(struct rl_wbuf *w, enum rl_msg_type type, const char *cred);

/* Decoders take one frame's payload (after the type byte): 0 or -EBADMSG. */
int rl_wire_get_hello(const uint8_t *p, size_t n, struct rl_msg_hello *m);
int rl_wire_get_auth(const uint8_t *p, size_t n, struct rl_msg_auth *m);
int rl_wire_get_auth_ok(const uint8_t *p, size_t n, uint8_t mac[RL_MAC_LEN]);
int rl_wire_get_join(const uint8_t *p, size_t n, struct rl_node_info *info);
int rl_wire_get_roster(const uint8_t *p, size_t n, struct rl_msg_roster *m);
int rl_wire_get_failure(const uint8_t *p, size_t n, struct rl_wire_failure *f);
int rl_wire_get_u32(const uint8_t *p, size_t n, uint32_t *value);
int rl_wire_get_final(const uint8_t *p, size_t n, struct rl_msg_final *m);
int rl_wire_get_reject(const uint8_t *p, size_t n, int *status, char *reason, size_t len);
/** *out is malloc'ed (*n entries, at most max). */
int rl_wire_get_check_addrs(const uint8_t *p, size_t n, size_t max, struct rl_check_addr **out,
			    size_t *count);
int rl_wire_get_check_results(const uint8_t *p, size_t n, size_t max,
			      struct rl_check_result **out, size_t *count);
/** cred must hold RL_WIRE_MUNGE_MAX + 1 bytes; version is NULL for AUTH_MUNGE_OK. */
int rl_wire_get_munge(const uint8_t *p, size_t n, uint16_t *version, char *cred);

/* Splits a byte stream into frames. */
struct rl_wire_reader {
	uint8_t *buf;
	size_t len, cap;
	size_t consumed;    /* bytes of the frame handed out last */
	size_t max_frame;   /* RL_WIRE_MAX_PREAUTH until the peer authenticated */
};

void rl_wire_reader_init(struct rl_wire_reader *r, size_t max_frame);
void rl_wire_reader_release(struct rl_wire_reader *r);
/**
 * Append received bytes (at most 64 KiB at a time; drain every frame with
 * rl_wire_reader_next after each feed). 0, -ENOMEM, or -EMSGSIZE.
 */
int rl_wire_reader_feed(struct rl_wire_reader *r, const void *data, size_t n);
/**
 * The next whole frame: 1 with *type / *payload / *plen set (valid until the
 * next call on this reader), 0 when more bytes are needed, -EMSGSIZE for a frame over
 * max_frame, -EBADMSG for an unknown type.
 */
int rl_wire_reader_next(struct rl_wire_reader *r, uint8_t *type, const uint8_t **payload,
			size_t *plen);

#endif
