/*
 * kubectl: a pod (mitogen.md 3.11). argv:
 *
 *   kubectl [kubectl_args...] [--namespace=NS] [--context=CTX]
 *           exec -i POD [--container=C] -- BOOT
 *
 * kubectl_args come first, so they may hold any global flag (--kubeconfig,
 * --v=2...); namespace and context are global flags too, container is an
 * exec flag. The NAME=VALUE forms keep a value from being read as a flag.
 * mitogen uses exec -it; we never pass -t: our channel is a socket, and a
 * TTY on the far side would mangle binary data.
 */
#include <errno.h>
#include <stddef.h>
#include "method.h"

/* Add "--NAME=VALUE" when option 'key' is given; an empty value is an
 * error (kubectl would take it as "the default", silently). */
static int add_flag(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key,
		    char ***argv, char **_errmsg)
{
	const char *v = mg_hop_opt(hop, key);
	char *flag;
	bool ok;
	int ret;

	if (v == NULL) {
		return 0;
	}
	if ((ret = mg__value_nonempty(mem_ctx, key, v, _errmsg)) != 0) {
		return ret;
	}
	flag = talloc_asprintf(*argv, "--%s=%s", key, v);
	ok = flag != NULL && mg__strv_add(argv, flag);
	talloc_free(flag);
	return ok ? 0 : -ENOMEM;
}

static int kubectl_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			      const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			      char **_errmsg)
{
	const char *path;
	char **argv, **args;
	bool ok;
	int ret;

	*_direct = false;
	if ((ret = mg__hop_path(mem_ctx, hop, "kubectl_path", "kubectl", &path, _errmsg)) != 0) {
		return ret;
	}
	if (hop->host == NULL || hop->host[0] == '\0') {
		*_errmsg = talloc_strdup(mem_ctx, "kubectl needs a pod name");
		return -EINVAL;
	}
	if (hop->user != NULL) {
		*_errmsg = talloc_strdup(mem_ctx, "kubectl cannot choose a user (add a sudo or su hop)");
		return -EINVAL;
	}
	if ((ret = mg__hop_list(mem_ctx, mem_ctx, hop, "kubectl_args", &args, _errmsg)) != 0) {
		return ret;
	}
	argv = talloc_zero_array(mem_ctx, char *, 1);
	ok = argv != NULL && mg__strv_add(&argv, path);
	for (size_t i = 0; ok && args[i] != NULL; i++) {
		ok = mg__strv_add(&argv, args[i]);
	}
	talloc_free(args);
	if (!ok) {
		ret = -ENOMEM;
		goto fail;
	}
	if ((ret = add_flag(mem_ctx, hop, "namespace", &argv, _errmsg)) != 0
	    || (ret = add_flag(mem_ctx, hop, "context", &argv, _errmsg)) != 0) {
		goto fail;
	}
	if (!mg__strv_add(&argv, "exec") || !mg__strv_add(&argv, "-i")
	    || !mg__strv_add(&argv, hop->host)) {
		ret = -ENOMEM;
		goto fail;
	}
	if ((ret = add_flag(mem_ctx, hop, "container", &argv, _errmsg)) != 0) {
		goto fail;
	}
	ok = mg__strv_add(&argv, "--");
	for (size_t i = 0; ok && boot->argv[i] != NULL; i++) {
		ok = mg__strv_add(&argv, boot->argv[i]);
	}
	if (!ok) {
		ret = -ENOMEM;
		goto fail;
	}
	*_argv = argv;
	return 0;

fail:
	talloc_free(argv);
	return ret;
}

const struct mg_method mg__method_kubectl = {
	.name = "kubectl",
	.options = mg__kubectl_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = kubectl_build_argv,
};
