/* An agent's link to the coordinator in another agent.
 *
 * Connects to the endpoint (retrying until the rendezvous timeout: the
 * coordinator may start later), proves knowledge of the job secret and
 * checks the coordinator's proof in return, sends this node's info, and
 * waits for the roster. During the job it reports local events (rank
 * failures, signals, the end of an attempt) and carries out what the
 * coordinator says. A coordinator that goes away stops the local ranks and
 * ends this agent with RL_EXIT_LOST_CONTACT.
 */
#ifndef RLAUNCH_MEMBER_H
#define RLAUNCH_MEMBER_H

#include <sys/socket.h>
#include <uv.h>

#include "rlaunch/auth.h"
#include "rlaunch/controller.h"
#include "rlaunch/roster.h"
#include "rlaunch/supervise.h"

struct rl_member_params {
	uv_loop_t *loop;
	const struct rl_secret *secret;
	struct sockaddr_storage endpoint;
	char endpoint_name[300];   /* for messages: "host:port" */
	double rdzv_timeout_s;
	bool endpoint_busy_here;   /* this host could not bind the endpoint: in use */
	struct rl_node_info self;
	struct rl_agent_ops ops;
};

struct rl_member;

int rl_member_start(struct rl_member **out, const struct rl_member_params *params);
struct rl_job_events rl_member_job_events(struct rl_member *m);
void rl_member_destroy(struct rl_member *m);

#endif
