/* The table of connection methods. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "method.h"

extern const struct mg_method mg__method_local;
extern const struct mg_method mg__method_ssh;
extern const struct mg_method mg__method_sudo;
extern const struct mg_method mg__method_su;
extern const struct mg_method mg__method_doas;
extern const struct mg_method mg__method_docker;
extern const struct mg_method mg__method_podman;
extern const struct mg_method mg__method_buildah;
extern const struct mg_method mg__method_lxc;
extern const struct mg_method mg__method_lxd;
extern const struct mg_method mg__method_jail;
extern const struct mg_method mg__method_kubectl;
extern const struct mg_method mg__method_setns;
extern const struct mg_method mg__method_fork;

const struct mg_method *const mg__methods[] = {
	&mg__method_local,
	&mg__method_ssh,
	&mg__method_sudo,
	&mg__method_su,
	&mg__method_doas,
	&mg__method_docker,
	&mg__method_podman,
	&mg__method_buildah,
	&mg__method_lxc,
	&mg__method_lxd,
	&mg__method_jail,
	&mg__method_kubectl,
	&mg__method_setns,
	&mg__method_fork,
	NULL,
};

const char *const mg__common_options[] = {
	"connect_timeout", "remote_name", "debug", NULL,
};

const struct mg_method *mg__method_find(const char *name)
{
	for (size_t i = 0; mg__methods[i] != NULL; i++) {
		if (strcmp(mg__methods[i]->name, name) == 0) {
			return mg__methods[i];
		}
	}
	return NULL;
}

int mg__hop_bool(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key, bool dflt,
		 bool *_value, char **_errmsg)
{
	static const char *const yes[] = { "1", "yes", "true", "on", NULL };
	static const char *const no[] = { "0", "no", "false", "off", NULL };
	const char *v = mg_hop_opt(hop, key);

	*_value = dflt;
	if (v == NULL) {
		return 0;
	}
	for (size_t i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*_value = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*_value = false;
			return 0;
		}
	}
	*_errmsg = talloc_asprintf(mem_ctx, "option %s: expected yes or no, not '%s'", key, v);
	return -EINVAL;
}
