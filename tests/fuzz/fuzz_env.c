/* libFuzzer: the environment variables and small syntaxes rlaunch reads:
 * CUDA_VISIBLE_DEVICES, the interface filter, HOST:PORT, kernel cpulists. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rlaunch/bootstrap.h"
#include "rlaunch/cuda_devices.h"
#include "rlaunch/node_addr.h"
#include "rlaunch/node_gpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[256], host[256];
	struct rl_cuda_devices d;
	struct rl_iface_filter f;
	struct rl_addr a;
	cpu_set_t set;
	int port;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rl_cuda_devices_parse(&d, s, err, sizeof(err));
	rl_cuda_devices_release(&d);
	if (rl_iface_filter_parse(&f, s, err, sizeof(err)) == 0) {
		rl_iface_filter_match(&f, "eth0");
		rl_iface_filter_match(&f, "");
	}
	rl_iface_filter_release(&f);
	rl_endpoint_parse(s, 29400, host, sizeof(host), &port);
	rl_addr_parse(s, &a);
	rl_cpulist_parse(s, &set);
	free(s);
	return 0;
}
