/*
 * Booting a hop: the first-stage shell script that receives the agent
 * image, and the image itself.
 */
#ifndef MG_BOOT_H
#define MG_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

/* An image's escaped form for the argv, kept between hops (boot.c). */
struct mg_boot_esc {
	const uint8_t *of;  /* the image it was made from, and its length */
	size_t of_len;
	char *text;         /* all but the last byte escaped; NULL: too long */
	size_t len;         /* the length of that text */
	size_t cost;        /* its length against MG_BOOT_ARG_MAX, once quoted */
};

struct mg_image {
	uint8_t *data;
	size_t len;
	/* Filled on first use by mg__boot_argv_inline; NULL: not kept. */
	struct mg_boot_esc *esc;
	char *self; /* a path that execs this image on this host, or NULL */
	/* A path that execs the same agent unpacked on this host, or NULL.
	 * A packed image (PROTOCOL 2.3.1) inflates itself at every start;
	 * a local hop runs this instead, handed the image at fd
	 * MG_BOOT_IMAGE_FD as "--local FD", so it still pushes the packed
	 * form on. */
	char *plain;
	/* Its bytes, read once by mg__image_plain; NULL: read each time. */
	struct mg_image_plain *plain_kept;
	/* The exec-only agent beside it, once mg__image_lite looked. */
	struct mg_image *lite;
	bool lite_tried;
	/* The leaf agent beside it, once mg__image_leaf looked. */
	struct mg_image *leaf;
	bool leaf_tried;
	/* An installed file, which an upgrade may replace after 'data' was
	 * read: mg__image_plain checks it is what 'data' inflates to. */
	bool plain_verify;
	/* Its agent pushes no image on (the exec-only and leaf agents,
	 * PROTOCOL 2.3.2 and 2.3.4): where the CPU is short, a hop may get
	 * the agent unpacked alone (conn-boot.c, mg__conn_take_unpacked). */
	bool no_push;
};

struct mg_image_plain {
	uint8_t *data;
	size_t len;
	int err;    /* when the one try failed */
	bool tried;
};

#define MG_BOOT_IMAGE_FD 3
#define MG_BOOT_IMAGE_FD_STR "3"

/*
 * Load the agent image to push: $MITOGEN_AGENT, else mitogen-agent beside
 * the running program, else the installed path. MG_ERR_NOAGENT when none.
 */
int mg__image_load(TALLOC_CTX *mem_ctx, struct mg_image **_img, char **_errmsg);
/*
 * The exec-only agent (docs/PROTOCOL.md 2.3.2): $MITOGEN_AGENT_LITE (set
 * but empty: none), else FULL's own path with "-lite" appended. Looked for
 * once and kept on FULL; NULL when there is none to push.
 */
const struct mg_image *mg__image_lite(struct mg_image *full);
/*
 * The leaf agent (docs/PROTOCOL.md 2.3.4) the same way: $MITOGEN_AGENT_LEAF
 * (set but empty: none), else FULL's own path with "-leaf" appended.
 */
const struct mg_image *mg__image_leaf(struct mg_image *full);
/*
 * The HELLO a parent appends to the image it pushes (docs/PROTOCOL.md
 * section 2.2): the frame and any frames held for the new agent, then
 * their length (u32) and this magic, so that the new agent reads HELLO,
 * and a request sent with it, from its own file instead of waiting a
 * round trip for them.
 */
#define MG_BOOT_TAIL_MAGIC "MGH1"
#define MG_BOOT_TAIL_LEN 8
/*
 * The same for a file that starts with the agent unpacked, the image
 * behind it (mg__image_plain): the frames, then that agent's length
 * (u32), the frames' length (u32) and this magic.
 */
#define MG_BOOT_TAIL2_MAGIC "MGH2"
#define MG_BOOT_TAIL2_LEN 12

struct mg_boot_tail {
	size_t frames; /* the frames' length; 0: the file has no tail */
	size_t len;    /* the whole tail: frames, lengths and magic */
	size_t plain;  /* the unpacked agent before the image, or 0 */
};

/* The tail of a file of 'len' bytes, from its last min(len,
 * MG_BOOT_TAIL2_LEN) bytes at 'last'; all 0 when it has none. */
void mg__boot_tail_parse(const uint8_t *last, uint64_t len, struct mg_boot_tail *t);
/* A regular file's size (at most 64 MiB) and the tail it ends with. 0 or
 * a negative error. */
int mg__boot_file_tail(int fd, size_t *_size, struct mg_boot_tail *t);

/*
 * The agent unpacked, to go before 'img' to a hop on this host, which
 * then runs it without inflating (PROTOCOL 2.2), and its length: kept
 * with 'img' when it has plain_kept, else read onto mem_ctx. -ENOENT
 * when 'img' is not packed or there is none at hand, -ESTALE when it is
 * not the agent 'img' inflates to (plain_verify).
 */
int mg__image_plain(TALLOC_CTX *mem_ctx, const struct mg_image *img, const uint8_t **_data,
		    size_t *_len);

/* Load the image from an open fd (an agent's own image, without the HELLO
 * its parent appended). */
int mg__image_from_fd(TALLOC_CTX *mem_ctx, int fd, struct mg_image **_img);

/*
 * The argv that boots an agent of 'len' bytes through a POSIX shell:
 * { "/bin/sh", "-c", SCRIPT, "mitogen-boot", LEN, NONCE, NULL }.
 */
char **mg__boot_argv(TALLOC_CTX *mem_ctx, size_t len);
/*
 * The same for a guarded image: no byte count after a head that
 * succeeded; the agent runs as the first stage's child (boot.c).
 */
char **mg__boot_argv_guarded(TALLOC_CTX *mem_ctx, size_t len);
/*
 * An agent ELF whose first padding byte of e_ident (ignored by the
 * kernel) is ')' (tools/pack-agent.py): a shell that runs the file as a
 * script (busybox does on ENOEXEC: cut inside its header) stops at
 * a syntax error on its first line before running anything.
 */
#define MG_ELF_GUARD_AT 9
#define MG_ELF_GUARD ')'
bool mg__image_guarded(const struct mg_image *img);

/*
 * The longest image argument mg__boot_argv_inline makes, escapes and
 * quoting included: a login shell must get the whole command as one
 * argument, and Linux takes at most 128 KiB in one (MAX_ARG_STRLEN).
 */
#define MG_BOOT_ARG_MAX 120000
/* And the longest word of it, a quote counted as the 4 bytes of its
 * quoting ('\''): csh (BSD's) refuses a word of about 8 KiB ("Word too
 * long.": 8,191 bytes fail, 8,100 pass), so the image goes as many
 * words, as long as that allows (each costs 3 bytes of quoting). */
#define MG_BOOT_ARG_WORD 8000
/*
 * The same with the image and its tail (image, then tail) in the argv
 * itself, escaped for printf %b: a seventh word K, then K words of at most
 * MG_BOOT_ARG_WORD bytes that the first stage writes one after the other;
 * it then reads nothing from stdin (PROTOCOL section 2.1). NULL when the escaped
 * form would exceed MG_BOOT_ARG_MAX, or on ENOMEM: push it on stdin then.
 * ESC, when not NULL, keeps the image's escaped form for the next call.
 */
char **mg__boot_argv_inline(TALLOC_CTX *mem_ctx, const uint8_t *image, size_t len,
			    const uint8_t *tail, size_t tail_len, struct mg_boot_esc *esc);
/*
 * The first stage for sudo in the login's own command (PROTOCOL 2.3.3):
 * SUDO holds sudo's words up to "--"; when sudo does not run the agent,
 * the first stage prints MITO003 and reads WHOLE_LEN bytes from stdin (the
 * whole agent and its tail), which it runs as the login user. IN_ARGV:
 * the image and tail ride in the command as for mg__boot_argv_inline
 * (NULL when too long); else the first stage reads them from stdin as
 * for mg__boot_argv, and IMAGE and TAIL only count.
 */
char **mg__boot_argv_fused(TALLOC_CTX *mem_ctx, const uint8_t *image, size_t len,
			   const uint8_t *tail, size_t tail_len, struct mg_boot_esc *esc,
			   bool in_argv, size_t whole_len, const char *const *sudo);

/* Quote one word for a POSIX shell (for --dry-run and ssh). */
char *mg__shell_quote(TALLOC_CTX *mem_ctx, const char *word);
/* Join an argv into one shell-quoted line. */
char *mg__shell_join(TALLOC_CTX *mem_ctx, const char *const *argv);
/* The same for a -vv line, each word cut at 160 bytes (the first stage,
 * an image in argv), so that the words after it stay in the line. */
char *mg__argv_for_log(TALLOC_CTX *mem_ctx, const char *const *argv);

#endif
