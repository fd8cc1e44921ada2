// SPDX-License-Identifier: GPL-2.0
/*
 * The baseline memtrace snapshot is measured against: one thread reading
 * every /proc/PID/smaps_rollup once (open, read to EOF, close) and doing
 * nothing with it. Prints how many files it read and their total size so
 * the work cannot be optimised away.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	char path[300], buf[8192];
	unsigned long files = 0, bytes = 0;
	struct dirent *de;
	DIR *dir = opendir("/proc");

	if (!dir) {
		perror("smaps_loop: /proc");
		return 1;
	}
	while ((de = readdir(dir))) {
		ssize_t n;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/smaps_rollup", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			bytes += (unsigned long)n;
		close(fd);
		files++;
	}
	closedir(dir);
	printf("%lu files, %lu bytes\n", files, bytes);
	return 0;
}
