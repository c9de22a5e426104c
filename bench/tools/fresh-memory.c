// What writing fresh memory costs on this machine (docs/performance.md, "Where the time goes now"): maps N MB of new
// anonymous memory, optionally asks for huge pages, writes every byte once, and prints the wall time of it (the
// process is single-threaded, so wall is its CPU).
//   gcc -O2 bench/tools/fresh-memory.c -o /tmp/fresh-memory
//   /tmp/fresh-memory 700            (4 KB pages)
//   /tmp/fresh-memory 700 huge       (madvise(MADV_HUGEPAGE) first: transparent huge pages in "madvise" mode)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: %s megabytes [huge]\n", argv[0]); return 2; }
    size_t n = (size_t)atol(argv[1]) << 20;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    if (argc > 2 && madvise(p, n, MADV_HUGEPAGE) != 0) perror("madvise");
    memset(p, 1, n);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%zu MB written in %.3f s\n", n >> 20, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
