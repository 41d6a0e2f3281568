/* A growable, NULL-terminated vector of owned strings: argv and environment
 * lists. Environment helpers treat entries as "KEY=VALUE".
 *
 * Every function that allocates returns 0 or -ENOMEM and leaves the vector
 * valid (and unchanged) on failure.
 */
#ifndef RLAUNCH_STRV_H
#define RLAUNCH_STRV_H

#include <stddef.h>

struct rl_strv {
	char **v;     /* always NULL-terminated once initialised */
	size_t n;
	size_t cap;
};

int rl_strv_init(struct rl_strv *s);
void rl_strv_release(struct rl_strv *s);
/** Append a copy of str. */
int rl_strv_push(struct rl_strv *s, const char *str);
/** Append copies of every entry of a NULL-terminated list. */
int rl_strv_push_all(struct rl_strv *s, char *const *list);

/** Value of KEY in a NULL-terminated "K=V" list, or NULL. */
const char *rl_env_lookup(char *const *envp, const char *key);
/** Set KEY=VALUE, replacing an existing entry in place. */
int rl_env_set(struct rl_strv *env, const char *key, const char *value);
/** Set KEY=VALUE only when KEY is absent. */
int rl_env_set_default(struct rl_strv *env, const char *key, const char *value);
/** Set from one "KEY=VALUE" string; -EINVAL when there is no '=' or KEY is empty. */
int rl_env_put(struct rl_strv *env, const char *assignment);
/** Remove every entry for KEY. */
void rl_env_unset(struct rl_strv *env, const char *key);

#endif
