/* Agent internals shared by its services. */
#ifndef MG_AGENT_PRIV_H
#define MG_AGENT_PRIV_H

#include "boot.h"
#include "router.h"

struct mg_agent;

/* Serve as an agent on fds 0/1 until the parent goes; returns the exit
 * status. image_fd (or -1) is this agent's own image; a forked agent gets
 * its parent's image in memory instead. */
int mg__agent_run(int image_fd, const struct mg_image *image);

struct exec_svc;
struct connect_svc;

/* Services register their handlers on the agent's router. NULL on ENOMEM. */
struct mg_images;
struct exec_svc *mg__svc_exec_init(struct mg_router *r, struct mg_images *images);
struct connect_svc *mg__svc_connect_init(struct mg_agent *a, struct mg_router *r);

/* The agent's own image, read on first use (to push to the next hop). */
const struct mg_image *mg__agent_image(struct mg_agent *a);
uint8_t mg__agent_log_level(const struct mg_agent *a);
/* True once the parent is gone. */
bool mg__agent_stopping(const struct mg_agent *a);
/* Called when the parent is gone: stop everything started (signal the
 * process groups, kill them after a grace period, drop child hops). */
void mg__svc_exec_stop(struct exec_svc *svc);

#endif
