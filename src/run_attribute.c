// SPDX-License-Identifier: GPL-2.0
/* placeholder */
#include <errno.h>
#include <stdlib.h>
#include "run.h"

struct run_attribution *run_attribution__new(void) { errno = ENOTSUP; return NULL; }
void run_attribution__free(struct run_attribution *a) {}
char **run_attribution__wrap(struct run_attribution *a, char **cmd) { errno = ENOTSUP; return NULL; }
int run_attribution__wait_target(struct run_attribution *a, pid_t recorder, pid_t *target) { return -ENOTSUP; }
int run_attribution__release(struct run_attribution *a) { return -ENOTSUP; }
void run_attribution__check_target(struct run_attribution *a, bool *done, int *wait_status) {}
int run_attribution__fd(const struct run_attribution *a) { return -1; }
bool run_attribution__is_recorder(const struct run_attribution *a, pid_t pid, int status) { return false; }
void run_attribution__finish(struct run_attribution *a) {}
void run_attribution__resolve(struct run_attribution *a, const struct run_verdict *v, size_t nr,
			      const struct run_figures *fig, const char **json, const char **note) {}
