/* Does COMMAND name something execvp can run? Checked in the agent before
 * any rank starts, so "command not found" costs nothing and starts nothing.
 * The worker stage still reports what only execve can tell (a script whose
 * interpreter is missing).
 */
#ifndef RLAUNCH_COMMAND_PATH_H
#define RLAUNCH_COMMAND_PATH_H

/**
 * Look cmd up like execvp: as a path when it contains '/', else in each
 * directory of path_env (NULL: the default search path). Returns 0, -ENOENT
 * (not found), -EACCES (found, not executable) or -EISDIR.
 */
int rl_command_check(const char *cmd, const char *path_env);
const char *rl_command_check_reason(int rc);
/** One extra line for a common mistake, e.g. "train.py" without "python3". */
void rl_command_hint(const char *cmd);

#endif
