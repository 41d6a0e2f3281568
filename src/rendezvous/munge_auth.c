#include "rlaunch/munge_auth.h"

#include <dlfcn.h>
#include <errno.h>
#include <munge.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rlaunch/log.h"

struct munge_api {
	void *lib;
	munge_ctx_t ctx;
	munge_err_t (*encode)(char **, munge_ctx_t, const void *, int);
	munge_err_t (*decode)(const char *, munge_ctx_t, void **, int *, uid_t *, gid_t *);
	munge_ctx_t (*ctx_create)(void);
	void (*ctx_destroy)(munge_ctx_t);
	munge_err_t (*ctx_set)(munge_ctx_t, int, ...);
	const char *(*strerror)(munge_err_t);
};

static struct munge_api api;

void rl_munge_close(void)
{
	if (api.ctx)
		api.ctx_destroy(api.ctx);
	if (api.lib)
		dlclose(api.lib);
	memset(&api, 0, sizeof(api));
}

int rl_munge_open(const char *socket, char *err, size_t errlen)
{
	uint8_t probe[RL_NONCE_LEN] = { 0 };
	char *cred = NULL;

	if (api.lib)
		return 0;
	api.lib = dlopen("libmunge.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!api.lib) {
		rl_errbuf(err, errlen, "cannot load libmunge.so.2 (%s)", dlerror());
		return -ENOENT;
	}
#define LOAD(field, name) \
	if (!(*(void **)&api.field = dlsym(api.lib, name))) goto teardown
	LOAD(encode, "munge_encode");
	LOAD(decode, "munge_decode");
	LOAD(ctx_create, "munge_ctx_create");
	LOAD(ctx_destroy, "munge_ctx_destroy");
	LOAD(ctx_set, "munge_ctx_set");
	LOAD(strerror, "munge_strerror");
#undef LOAD
	api.ctx = api.ctx_create();
	if (!api.ctx)
		goto teardown;
	if (socket && api.ctx_set(api.ctx, MUNGE_OPT_SOCKET, socket) != EMUNGE_SUCCESS)
		goto teardown;
	/* only this uid may decode what we encode */
	if (api.ctx_set(api.ctx, MUNGE_OPT_UID_RESTRICTION, getuid()) != EMUNGE_SUCCESS)
		goto teardown;
	if (rl_munge_encode("probe", probe, probe, &cred) < 0) {
		rl_errbuf(err, errlen, "munged does not answer%s%s", socket ? " on " : "",
			  socket ? socket : "");
		rl_munge_close();
		return -ENOENT;
	}
	free(cred);
	return 0;
teardown:
	rl_errbuf(err, errlen, "libmunge.so.2 is unusable");
	rl_munge_close();
	return -ENOENT;
}

static void payload(const char *label, const uint8_t *a, const uint8_t *b, uint8_t *out,
		    size_t *len)
{
	size_t l = strlen(label);
	memcpy(out, label, l);
	memcpy(out + l, a, RL_NONCE_LEN);
	memcpy(out + l + RL_NONCE_LEN, b, RL_NONCE_LEN);
	*len = l + 2 * RL_NONCE_LEN;
}

int rl_munge_encode(const char *label, const uint8_t a[RL_NONCE_LEN],
		    const uint8_t b[RL_NONCE_LEN], char **cred)
{
	uint8_t buf[64 + 2 * RL_NONCE_LEN];
	size_t len;

	if (!api.lib || strlen(label) > 64)
		return -EIO;
	payload(label, a, b, buf, &len);
	*cred = NULL;
	if (api.encode(cred, api.ctx, buf, (int)len) != EMUNGE_SUCCESS || !*cred) {
		free(*cred);
		*cred = NULL;
		return -EIO;
	}
	if (strlen(*cred) > RL_MUNGE_CRED_MAX) {
		free(*cred);
		*cred = NULL;
		return -EIO;
	}
	return 0;
}

int rl_munge_verify(const char *cred, const char *label, const uint8_t a[RL_NONCE_LEN],
		    uint8_t b[RL_NONCE_LEN], char *why, size_t whylen)
{
	void *data = NULL;
	int len = 0;
	uid_t uid;
	gid_t gid;
	munge_err_t e;
	size_t l = strlen(label);
	int rc = -EACCES;

	if (!api.lib) {
		rl_errbuf(why, whylen, "MUNGE is not loaded");
		return -EACCES;
	}
	e = api.decode(cred, api.ctx, &data, &len, &uid, &gid);
	if (e != EMUNGE_SUCCESS)
		rl_errbuf(why, whylen, "invalid MUNGE credential: %s", api.strerror(e));
	else if (uid != getuid())
		rl_errbuf(why, whylen, "MUNGE credential of uid %u, not %u", (unsigned)uid,
			  (unsigned)getuid());
	else if ((size_t)len != l + 2 * RL_NONCE_LEN || memcmp(data, label, l) != 0 ||
		 memcmp((uint8_t *)data + l, a, RL_NONCE_LEN) != 0)
		rl_errbuf(why, whylen, "MUNGE credential for another handshake");
	else {
		memcpy(b, (uint8_t *)data + l + RL_NONCE_LEN, RL_NONCE_LEN);
		rc = 0;
	}
	free(data);
	return rc;
}
