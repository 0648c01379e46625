/* docker: [user@]container, or a throw-away container from ?image=
 * (mitogen.md 3.5). argv: docker exec --interactive [--user=USER]
 * CONTAINER BOOT, or docker run --interactive [--user=USER] --rm IMAGE BOOT.
 * No -t: the channel is a socket, and a TTY would mangle binary data.
 */
#include <errno.h>
#include <stddef.h>
#include "method.h"

static int docker_build_argv(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			     const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			     char **_errmsg)
{
	const char *image = mg_hop_opt(hop, "image");
	const char *path;
	char **argv;
	bool ok;
	int ret;

	*_direct = false;
	if ((ret = mg__hop_path(mem_ctx, hop, "docker_path", "docker", &path, _errmsg)) != 0) {
		return ret;
	}
	if (hop->host != NULL && image != NULL) {
		*_errmsg = talloc_strdup(mem_ctx, "docker: give either a container or ?image=, not both");
		return -EINVAL;
	}
	if ((hop->host == NULL || hop->host[0] == '\0') && (image == NULL || image[0] == '\0')) {
		*_errmsg = talloc_strdup(mem_ctx, "docker needs a container name or ?image=");
		return -EINVAL;
	}
	if (image != NULL && image[0] == '-') {
		/* docker would read it as an option. */
		*_errmsg = talloc_asprintf(mem_ctx, "docker: image '%s' may not begin with '-'", image);
		return -EINVAL;
	}
	argv = talloc_zero_array(mem_ctx, char *, 1);
	if (argv == NULL) {
		return -ENOMEM;
	}
	ok = mg__strv_add(&argv, path)
	     && mg__strv_add(&argv, image != NULL ? "run" : "exec")
	     && mg__strv_add(&argv, "--interactive");
	if (ok && hop->user != NULL) {
		char *u = talloc_asprintf(argv, "--user=%s", hop->user);
		ok = u != NULL && mg__strv_add(&argv, u);
		talloc_free(u);
	}
	if (ok && image != NULL) {
		ok = mg__strv_add(&argv, "--rm") && mg__strv_add(&argv, image);
	} else if (ok) {
		ok = mg__strv_add(&argv, hop->host);
	}
	for (size_t i = 0; ok && boot->argv[i] != NULL; i++) {
		ok = mg__strv_add(&argv, boot->argv[i]);
	}
	if (!ok) {
		talloc_free(argv);
		return -ENOMEM;
	}
	*_argv = argv;
	return 0;
}

const struct mg_method mg__method_docker = {
	.name = "docker",
	.options = mg__docker_options,
	.spec = MG_SPEC_CONTAINER,
	.mode = MG_SPAWN_SOCKET,
	.eager = false,
	.build_argv = docker_build_argv,
};
