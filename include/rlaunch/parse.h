/* Strict parsers for numbers and small lists found in flags and environment
 * variables. No whitespace, no trailing garbage, no silent wrap-around.
 * All return 0 or -EINVAL / -ERANGE and leave *out untouched on error.
 */
#ifndef RLAUNCH_PARSE_H
#define RLAUNCH_PARSE_H

#include <stdbool.h>
#include <stdint.h>

int rl_parse_long(const char *s, long min, long max, long *out);
/** Non-negative decimal seconds such as "30", "0.5"; at most max. */
int rl_parse_seconds(const char *s, double max, double *out);

/** Integer set such as "0,2-5,7" into a bitmap of nbits bits ("" is invalid). */
int rl_parse_index_list(const char *s, uint8_t *bitmap, unsigned nbits);

static inline bool rl_bit_test(const uint8_t *bitmap, unsigned i)
{
	return bitmap[i / 8] & (1u << (i % 8));
}

#endif
