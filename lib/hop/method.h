/* Connection methods: one file per method in hop/connect/, listed in
 * connect/methods.c. */
#ifndef MG_METHOD_H
#define MG_METHOD_H

#include <stdbool.h>
#include <talloc.h>
#include "mitogen/chain.h"
#include "buf.h"
#include "chain-method.h"
#include "chain-value.h"

struct mg_boot_cmd {
	const char *const *argv; /* the first stage, as an argv */
	const char *self;        /* a path that execs the agent image here, or NULL */
	const char *plain;       /* the same agent unpacked (struct mg_image), or NULL */
};

enum mg_spawn_mode {
	MG_SPAWN_SOCKET, /* socketpair on fd 0/1, pipe on fd 2 */
	MG_SPAWN_HYBRID, /* socketpair for data, a PTY as controlling tty */
	MG_SPAWN_PTY,    /* everything on a PTY */
};

/* A whole line of hop output that ends the boot with a message. */
struct mg_line_error {
	const char *re;  /* POSIX ERE, case-insensitive */
	int err;         /* MG_ERR_* or negative errno for the result */
	const char *msg; /* the error text (without the hop name) */
};

/*
 * What a method watches for in a hop's output (its stderr, or its PTY)
 * before the agent is up. Partial-line patterns match the end of output
 * not yet ended by a newline (prompts); line patterns match whole lines
 * (failures, so a message written in two pieces is still seen whole).
 */
struct mg_prompts {
	const char *what;              /* "sudo": "sudo password is required" */
	char *password;                /* partial-line ERE for the password prompt, or NULL */
	char **incorrect;              /* line EREs meaning a wrong password; NULL-terminated */
	const char *hostkey;           /* partial-line ERE: unknown host key question, or NULL */
	bool accept_hostkey;           /* answer "yes" to it (ssh check_host_keys=accept) */
	/* Line ERE: the line naming the unknown host key (its fingerprint),
	 * shown when the key is accepted, or NULL. */
	const char *hostkey_id;
	const struct mg_line_error *errors; /* line patterns; terminated by re == NULL */
	/* "NAME=VALUE" set in the environment of the hop's command (sudo:
	 * its prompt, see connect/sudo.c); NULL: none. Methods that set it
	 * have no amend_env. */
	char **env;
};

struct mg_loop;

/* The end of an asynchronous preparation: err 0 with the state for
 * pre_exec (allocated on the mem_ctx given to prepare_async), or an error
 * and its message (without the hop name). */
typedef void (*mg_prepare_done_fn)(void *data, int err, void *state, const char *errmsg);

struct mg_method {
	/* As in the chain parser's table (chain/chain-method.c). */
	const char *name;
	const char *const *options;
	enum mg_spec_kind spec;
	enum mg_spawn_mode mode;
	/* True when no prompt can appear, so the agent image may be sent
	 * without waiting for the first stage's marker. */
	bool eager;
	/* Whether the image may ride in the first stage's argv for this hop
	 * (an eager method whose command crosses a link): nothing then waits
	 * for the far end's stdin to open (PROTOCOL section 2.1). NULL: no. */
	bool (*image_arg)(const struct mg_hop *hop);
	/* A forked copy of this process becomes the agent: no exec at all. */
	bool fork;
	/* The hop runs on this host and its stream is no PTY: a packed image
	 * goes behind the agent unpacked, which runs without inflating it
	 * (conn.c, take_plain). */
	bool plain_first;
	/* stderr on a socketpair, not a pipe (socket mode): a helper of the
	 * hop's command may hand us a descriptor on it (quickack.h). */
	bool err_socket;
	/*
	 * Build the argv that runs boot->argv (the first stage through
	 * /bin/sh) for 'hop'. A method that runs on this host may instead
	 * exec boot->self directly with "--local" and set *_direct: then no
	 * image is pushed. Returns 0 or a negative error with *_errmsg set.
	 */
	int (*build_argv)(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
			  const struct mg_boot_cmd *boot, char ***_argv, bool *_direct,
			  char **_errmsg);
	/* The spawn mode for this hop when options decide it (ssh: a PTY only
	 * with a password or check_host_keys=accept); NULL: .mode. */
	enum mg_spawn_mode (*spawn_mode)(const struct mg_hop *hop);
	/* Prompt and failure patterns for this hop, allocated on mem_ctx
	 * (password_prompt= and incorrect_prompts= may change them); NULL:
	 * the method never prompts. */
	int (*prompts)(TALLOC_CTX *mem_ctx, const struct mg_hop *hop,
		       struct mg_prompts **_p, char **_errmsg);
	/* Whether this hop takes a password (password_env / password_file /
	 * a prompt); the master resolves it before connecting. */
	bool takes_password;
	/* Appended to boot failures (e.g. lxc's note on its error reports). */
	const char *eof_hint;
	/* Work in the parent before spawning (setns: find the leader pid);
	 * *_state is allocated on mem_ctx. NULL: nothing. */
	int (*prepare)(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, void **_state,
		       char **_errmsg);
	/* Like prepare, for work that waits on something (setns: the
	 * container tool's answer), so that it never blocks the loop: start
	 * it on 'loop' and return 0, then call 'done' once, from the loop,
	 * never from inside this call; or return a negative error with
	 * *_errmsg set (done is then not called). Freeing mem_ctx cancels
	 * it. Used instead of prepare when set. */
	int (*prepare_async)(TALLOC_CTX *mem_ctx, struct mg_loop *loop, const struct mg_hop *hop,
			     mg_prepare_done_fn done, void *data, char **_errmsg);
	/* prepare_async only saves waits, at a cost in CPU (ssh: the
	 * TCP_NODELAY probe): it is left out when more hops start at once
	 * than there are CPUs (conn.c, prepare_pays). */
	bool prepare_optional;
	/* After prepare_async: change the argv build_argv made, from the
	 * state (ssh: a ProxyCommand found to fit). NULL: nothing. */
	int (*amend_argv)(TALLOC_CTX *mem_ctx, void *state, char ***_argv);
	/* The same for its environment: *_envp, NULL (inherit) on entry, may
	 * become a vector on mem_ctx whose strings outlive the spawn. */
	int (*amend_env)(TALLOC_CTX *mem_ctx, void *state, char ***_envp);
	/* Work in the child between fork and exec (setns: enter the
	 * namespaces). Async-signal-safe only; on failure write one line to
	 * fd 2 and return -1. NULL: nothing (and the faster posix_spawn). */
	int (*pre_exec)(void *state);
};

/* Every value of list option 'key', each split into words
 * (mg__value_words), in order: a vector on 'owner'; a message
 * ("option ssh_args: ...") on mem_ctx. */
int mg__hop_list(TALLOC_CTX *mem_ctx, TALLOC_CTX *owner, const struct mg_hop *hop,
		 const char *key, char ***_words, char **_errmsg);
/* Path option 'key' (not empty), or 'dflt' when it is not given. Returns
 * 0, or -EINVAL with *_errmsg set. */
int mg__hop_path(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key,
		 const char *dflt, const char **_path, char **_errmsg);
/*
 * What container methods check first: the tool from option 'path_opt'
 * (default 'dflt', not empty), a container name, and no user where the
 * tool cannot switch users. Returns 0 with *_path set, or -EINVAL with
 * *_errmsg ("lxd needs a container name").
 */
int mg__container_check(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *method,
			const char *path_opt, const char *dflt, bool user_ok,
			const char **_path, char **_errmsg);
/* 'words' (NULL entries skipped up to 'n') then the boot argv: a new
 * vector on mem_ctx, or NULL on ENOMEM. */
char **mg__argv_then_boot(TALLOC_CTX *mem_ctx, const char *const *words, size_t n,
			  const struct mg_boot_cmd *boot);

/* Append to a NULL-terminated vector (reallocated); false on ENOMEM. */
bool mg__strv_add(char ***v, const char *s);

/*
 * Option values read as a hop starts, through the checkers the chain
 * parser uses (chain-value.h): a parsed chain has passed them already,
 * a hop made some other way is checked here, in the same words.
 */

/* A boolean hop option: 1/yes/true/on or 0/no/false/off; 'dflt' when
 * absent. Returns 0, or -EINVAL with *_errmsg set. */
int mg__hop_bool(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key, bool dflt,
		 bool *_value, char **_errmsg);

/* A hop option in seconds ("connect_timeout"): digits and at most one
 * point, from 0.001 to 86400, in milliseconds; *_ms untouched and
 * *_given false when the option is absent. The one grammar of the value,
 * for every method, running or --dry-run. Returns 0, or -EINVAL with
 * *_errmsg set. */
int mg__hop_seconds(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, const char *key,
		    unsigned *_ms, bool *_given, char **_errmsg);

/* The method called 'name', or NULL. */
const struct mg_method *mg__method_find(const char *name);
/* All methods, NULL-terminated. */
extern const struct mg_method *const mg__methods[];

/* connect/sudo.c: sudo's words up to "--" (with -n) for a sudo hop run in
 * an ssh hop's own command (PROTOCOL 2.3.3), on mem_ctx; -ENOTSUP when
 * that hop cannot be (another user than root, a login shell), -EINVAL
 * for a bad option (the hop then fails where it is connected). */
int mg__sudo_fuse_words(TALLOC_CTX *mem_ctx, const struct mg_hop *hop, char ***_words);
/* Whether a sudo hop keeps the directory sudo runs in (no login). */
bool mg__sudo_keeps_cwd(const struct mg_hop *hop);

#endif
