#include "rlaunch/parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rl_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Plain decimals only: strtod alone would also take "0x10", "1e3", "inf",
 * " 1" and locale-dependent commas. */
int rl_parse_seconds(const char *s, double max, double *out)
{
	size_t digits = 0, dots = 0;
	char *end;
	double v;

	if (!s)
		return -EINVAL;
	for (const char *c = s; *c; c++) {
		if (isdigit((unsigned char)*c))
			digits++;
		else if (*c == '.' && dots++ == 0)
			continue;
		else
			return -EINVAL;
	}
	if (digits == 0)
		return -EINVAL;
	v = strtod(s, &end); /* an underflow to 0 is harmless; an overflow is inf */
	if (*end)
		return -EINVAL;
	if (!isfinite(v) || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int rl_parse_index_list(const char *s, uint8_t *bitmap, unsigned nbits)
{
	uint8_t tmp[1024 / 8 + 1];
	const char *p = s;

	if (!s || !*s || nbits > 1024)
		return -EINVAL;
	memset(tmp, 0, sizeof(tmp));
	for (;;) {
		char item[32];
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		long lo, hi;
		char *dash;

		if (len == 0 || len >= sizeof(item))
			return -EINVAL;
		memcpy(item, p, len);
		item[len] = '\0';
		dash = strchr(item, '-');
		if (dash) {
			*dash = '\0';
			if (rl_parse_long(item, 0, (long)nbits - 1, &lo) < 0 ||
			    rl_parse_long(dash + 1, 0, (long)nbits - 1, &hi) < 0 || hi < lo)
				return -EINVAL;
		} else {
			if (rl_parse_long(item, 0, (long)nbits - 1, &lo) < 0)
				return -EINVAL;
			hi = lo;
		}
		for (long i = lo; i <= hi; i++)
			tmp[i / 8] |= (uint8_t)(1u << (i % 8));
		if (!comma)
			break;
		p = comma + 1;
	}
	memcpy(bitmap, tmp, (nbits + 7) / 8);
	return 0;
}
