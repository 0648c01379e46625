/* The methods' names, options and spec kinds, for the chain parser. */
#include <stddef.h>
#include <string.h>
#include "chain-method.h"

const char *const mg__common_options[] = {
	"connect_timeout", "remote_name", "debug", NULL,
};

const char *const mg__local_options[] = { "first_stage", NULL };
const char *const mg__ssh_options[] = {
	"username", "port", "check_host_keys", "identity_file",
	"identities_only", "compression", "ssh_path", "ssh_args",
	"ssh_debug_level", "password_env", "password_file",
	"keepalive_enabled", "keepalive_count", "keepalive_interval", "tcp_nodelay",
	"image_in_command", NULL,
};
const char *const mg__sudo_options[] = {
	"username", "sudo_path", "sudo_args", "set_home", "preserve_env",
	"login", "selinux_role", "selinux_type", "password_env",
	"password_file", "password_prompt", "incorrect_prompts", NULL,
};
const char *const mg__su_options[] = {
	"username", "su_path", "password_env", "password_file",
	"password_prompt", "incorrect_prompts", NULL,
};
const char *const mg__doas_options[] = {
	"username", "doas_path", "password_env", "password_file",
	"password_prompt", "incorrect_prompts", NULL,
};
const char *const mg__docker_options[] = { "username", "docker_path", "image", NULL };
const char *const mg__podman_options[] = { "username", "podman_path", NULL };
const char *const mg__buildah_options[] = { "username", "buildah_path", NULL };
const char *const mg__lxc_options[] = { "lxc_attach_path", NULL };
const char *const mg__lxd_options[] = { "lxc_path", NULL };
const char *const mg__jail_options[] = { "username", "jexec_path", NULL };
const char *const mg__kubectl_options[] = {
	"container", "namespace", "context", "kubectl_args",
	"kubectl_path", NULL,
};
const char *const mg__setns_options[] = {
	"username", "docker_path", "lxc_path", "lxc_info_path",
	"machinectl_path", NULL,
};
const char *const mg__fork_options[] = { NULL };

const struct mg_method_syntax mg__method_syntaxes[] = {
	{ "local", mg__local_options, MG_SPEC_NONE },
	{ "ssh", mg__ssh_options, MG_SPEC_HOST },
	{ "sudo", mg__sudo_options, MG_SPEC_USER },
	{ "su", mg__su_options, MG_SPEC_USER },
	{ "doas", mg__doas_options, MG_SPEC_USER },
	{ "docker", mg__docker_options, MG_SPEC_CONTAINER },
	{ "podman", mg__podman_options, MG_SPEC_CONTAINER },
	{ "buildah", mg__buildah_options, MG_SPEC_CONTAINER },
	{ "lxc", mg__lxc_options, MG_SPEC_CONTAINER },
	{ "lxd", mg__lxd_options, MG_SPEC_CONTAINER },
	{ "jail", mg__jail_options, MG_SPEC_CONTAINER },
	{ "kubectl", mg__kubectl_options, MG_SPEC_CONTAINER },
	{ "setns", mg__setns_options, MG_SPEC_CONTAINER },
	{ "fork", mg__fork_options, MG_SPEC_NONE },
	{ NULL, NULL, MG_SPEC_NONE },
};

const struct mg_method_syntax *mg__method_syntax(const char *name)
{
	for (size_t i = 0; mg__method_syntaxes[i].name != NULL; i++) {
		if (strcmp(mg__method_syntaxes[i].name, name) == 0) {
			return &mg__method_syntaxes[i];
		}
	}
	return NULL;
}
