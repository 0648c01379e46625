/* The table of connection methods. */
#include <string.h>
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

const struct mg_method *mg__method_find(const char *name)
{
	for (size_t i = 0; mg__methods[i] != NULL; i++) {
		if (strcmp(mg__methods[i]->name, name) == 0) {
			return mg__methods[i];
		}
	}
	return NULL;
}

