/*
 * The hop command of the boot target (fuzz-boot.c): whatever method runs
 * it, it prints $MG_FUZZ_BOOT/err on its stderr and $MG_FUZZ_BOOT/out on
 * its stdout; if that held the agent's "up" marker and its stdout is a
 * socket, it ends its output and reads its stdin (the agent image,
 * HELLO, passwords) until the connection closes it, else it exits.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Copy the file to 'to'; true when it holds the agent's "up" marker. */
static bool copy(const char *dir, const char *name, int to)
{
	char path[4096], buf[65536], last[8] = "";
	bool up = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return false;
	}
	/* Reads of one byte: the marker may be anywhere. */
	while ((n = read(fd, buf, 1)) > 0) {
		memmove(last, last + 1, sizeof(last) - 1);
		last[sizeof(last) - 1] = buf[0];
		up = up || memcmp(last, "MITO002\n", 8) == 0;
		if (write(to, buf, 1) != 1) {
			break;
		}
	}
	close(fd);
	return up;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("MG_FUZZ_BOOT");
	char buf[65536];
	bool up;

	if (dir == NULL) {
		return 2;
	}
	copy(dir, "err", 2);
	up = copy(dir, "out", 1);
	close(2);
	/* An agent that is up answers: on a socket the reader sees the end
	 * of output and may still write, a terminal ends only once nobody
	 * has it open. Without the marker, the hop just ends. */
	if (!up || shutdown(1, SHUT_WR) != 0) {
		return 0;
	}
	close(1);
	while (read(0, buf, sizeof(buf)) > 0) {
	}
	return 0;
}
