/* Same-user authentication through MUNGE, the cluster's own authentication
 * service, for Slurm jobs that have no job token. libmunge.so.2 is dlopen'ed.
 *
 * The handshake mirrors the HMAC one (auth.h) with MUNGE credentials in
 * place of MACs: the client sends a credential whose payload is
 * "rlaunch-v1 client" + server nonce + client nonce, restricted so that
 * only its own uid can decode it; the server decodes it (munged checks the
 * signature and refuses replays), requires the same uid and its own nonce,
 * and answers with a credential over the nonces the other way round, which
 * the client checks the same way.
 */
#ifndef RLAUNCH_MUNGE_AUTH_H
#define RLAUNCH_MUNGE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "rlaunch/wire.h"

#define RL_MUNGE_CRED_MAX 1000

/**
 * Load libmunge and check that munged answers (socket: NULL for the
 * library's default, else e.g. from RLAUNCH_MUNGE_SOCKET). 0, or -ENOENT
 * with a reason in err.
 */
int rl_munge_open(const char *socket, char *err, size_t errlen);
void rl_munge_close(void);

/** A credential over label + a + b; *cred is malloc'ed. 0 or -EIO. */
int rl_munge_encode(const char *label, const uint8_t a[RL_NONCE_LEN],
		    const uint8_t b[RL_NONCE_LEN], char **cred);
/**
 * Decode cred; require our uid, the label and a; copy b out.
 * 0, or -EACCES with the reason in why.
 */
int rl_munge_verify(const char *cred, const char *label, const uint8_t a[RL_NONCE_LEN],
		    uint8_t b[RL_NONCE_LEN], char *why, size_t whylen);

#endif
