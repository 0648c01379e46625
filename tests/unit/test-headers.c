/*
 * The installed headers as a user's program sees them: this file is
 * built as strict C99 (-Wpedantic -Werror, no _GNU_SOURCE) and, as
 * test-headers.cc, as C++, linked against the shared library: every
 * header on its own guard, no C++ keyword as a name, and extern "C" so
 * that a C++ program links. It calls a function of each kind to prove
 * the linking.
 */
#include <mitogen/agent.h>
#include <mitogen/bcast.h>
#include <mitogen/broker.h>
#include <mitogen/chain.h>
#include <mitogen/codec.h>
#include <mitogen/connect.h>
#include <mitogen/context.h>
#include <mitogen/error.h>
#include <mitogen/exec.h>
#include <mitogen/file.h>
#include <mitogen/log.h>
#include <mitogen/loop.h>
#include <mitogen/message.h>
#include <mitogen/mitogen.h>
#include <mitogen/receiver.h>
#include <mitogen/router.h>
#include <mitogen/select.h>
#include <mitogen/service.h>
#include <mitogen/session.h>
#include <mitogen/targets.h>
#include <mitogen/unix.h>
#include <mitogen/worker.h>
#include <stdio.h>
#include <string.h>

static int n_tests;
static int n_failed;

static void check(int ok, const char *what)
{
	n_tests++;
	n_failed += !ok;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", n_tests, what);
}

int main(void)
{
	TALLOC_CTX *top = talloc_new(NULL);
	struct mg_kubectl_opts k;
	struct mg_chain *chain = NULL;
	char *errmsg = NULL;

	printf("TAP version 13\n");
	check(strcmp(mg_version(), "") != 0, "mg_version");
	check(strcmp(mg_strerror(MG_ERR_CHAIN), "bad hop chain") == 0, "mg_strerror");
	/* Every field of the kubectl hop, namespace= included. */
	memset(&k, 0, sizeof(k));
	k.pod = "web-0";
	k.kube_namespace = "prod";
	check(mg_chain_kubectl(top, NULL, &k, &chain, &errmsg) == 0 &&
	      strcmp(chain->text, "kubectl:web-0?namespace=prod") == 0, "mg_chain_kubectl");
	talloc_free(top);
	printf("1..%d\n", n_tests);
	return n_failed != 0;
}
