/* The methods' names, options and spec kinds, for the chain parser. */
#include <stdbool.h>
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

const struct mg_option_kind mg__option_kinds[] = {
	{ "connect_timeout", MG_OPT_SECONDS },
	{ "debug", MG_OPT_BOOL },
	{ "first_stage", MG_OPT_BOOL },
	{ "check_host_keys", MG_OPT_HOSTKEYS },
	{ "identities_only", MG_OPT_BOOL },
	{ "compression", MG_OPT_BOOL },
	{ "ssh_args", MG_OPT_WORDS },
	{ "ssh_debug_level", MG_OPT_COUNT },
	{ "keepalive_enabled", MG_OPT_BOOL },
	{ "keepalive_count", MG_OPT_COUNT },
	{ "keepalive_interval", MG_OPT_COUNT },
	{ "tcp_nodelay", MG_OPT_BOOL },
	{ "image_in_command", MG_OPT_BOOL },
	{ "sudo_path", MG_OPT_PATH },
	{ "sudo_args", MG_OPT_WORDS },
	{ "set_home", MG_OPT_BOOL },
	{ "preserve_env", MG_OPT_BOOL },
	{ "login", MG_OPT_BOOL },
	{ "selinux_role", MG_OPT_NAME },
	{ "selinux_type", MG_OPT_NAME },
	{ "password_prompt", MG_OPT_NONEMPTY },
	{ "incorrect_prompts", MG_OPT_WORDS },
	{ "su_path", MG_OPT_PATH },
	{ "doas_path", MG_OPT_PATH },
	{ "docker_path", MG_OPT_PATH },
	{ "podman_path", MG_OPT_PATH },
	{ "buildah_path", MG_OPT_PATH },
	{ "lxc_attach_path", MG_OPT_PATH },
	{ "lxc_path", MG_OPT_PATH },
	{ "lxc_info_path", MG_OPT_PATH },
	{ "machinectl_path", MG_OPT_PATH },
	{ "jexec_path", MG_OPT_PATH },
	{ "kubectl_path", MG_OPT_PATH },
	{ "kubectl_args", MG_OPT_WORDS },
	{ "namespace", MG_OPT_NONEMPTY },
	{ "context", MG_OPT_NONEMPTY },
	{ "container", MG_OPT_NONEMPTY },
	{ NULL, MG_OPT_TEXT },
};

enum mg_opt_kind mg__option_kind(const char *key)
{
	for (size_t i = 0; mg__option_kinds[i].name != NULL; i++) {
		if (strcmp(mg__option_kinds[i].name, key) == 0) {
			return mg__option_kinds[i].kind;
		}
	}
	return MG_OPT_TEXT;
}

const struct mg_method_syntax *mg__method_syntax(const char *name)
{
	for (size_t i = 0; mg__method_syntaxes[i].name != NULL; i++) {
		if (strcmp(mg__method_syntaxes[i].name, name) == 0) {
			return &mg__method_syntaxes[i];
		}
	}
	return NULL;
}

static bool in(const char *const *list, const char *key)
{
	for (size_t i = 0; list[i] != NULL; i++) {
		if (strcmp(list[i], key) == 0) {
			return true;
		}
	}
	return false;
}

bool mg__method_takes(const struct mg_method_syntax *m, const char *key)
{
	return in(m->options, key) || in(mg__common_options, key);
}
