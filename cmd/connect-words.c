/* The words of the -c text ssh gives its $SHELL: see connect-words.h. */
#include <string.h>
#include "connect-words.h"
#include "shell-bare.h"

/* Only what ssh.c's quoting makes: anything else may mean more to a
 * shell than its words, and goes to /bin/sh. */
int mg_connect_words(char *s, const char *argv0, char **words, int max)
{
	static const char bare[] = MG_SHELL_BARE;
	char *r, *w;
	int n = 0;

	if (strncmp(s, "exec ", 5) != 0) {
		return 0;
	}
	for (r = w = s + 5; *r != '\0'; n++) {
		if (n == max) {
			return 0;
		}
		words[n] = w;
		while (*r != '\0' && *r != ' ') {
			if (*r == '\'') {
				char *q = strchr(r + 1, '\'');

				if (q == NULL) {
					return 0;
				}
				memmove(w, r + 1, (size_t)(q - r - 1));
				w += q - r - 1;
				r = q + 1;
			} else if (r[0] == '\\' && r[1] == '\'') {
				*w++ = '\'';
				r += 2;
			} else if (strchr(bare, *r) != NULL) {
				*w++ = *r++;
			} else {
				return 0;
			}
		}
		if (w == words[n]) {
			return 0; /* empty: not one of ours */
		}
		if (*r == ' ') {
			r++; /* before the NUL below lands on it */
		}
		*w++ = '\0';
	}
	return n > 0 && strcmp(words[0], argv0) == 0 ? n : 0;
}
