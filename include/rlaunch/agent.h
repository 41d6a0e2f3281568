/* One agent, start to end: bootstrap, rendezvous, plan, run, supervise.
 *
 *   options -> bootstrap (which rendezvous, how many agents, who serves)
 *           -> this node's info (address, GPUs) -> coordinator or member
 *           -> roster -> plan -> job (supervise.h) -> exit status
 *
 * Everything that can be checked before the rendezvous is checked before
 * it (flags, CUDA_VISIBLE_DEVICES, the command, the log directory, the job
 * secret), so a bad input ends this agent before it joins anyone.
 */
#ifndef RLAUNCH_AGENT_H
#define RLAUNCH_AGENT_H

#include "rlaunch/options.h"

/** Run the job described by o. Returns rlaunch's exit status. */
int rl_agent_run(const struct rl_options *o, char **envp);

#endif
