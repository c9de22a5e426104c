// What touching fresh memory costs on this machine (docs/performance.md, "Fresh memory on this virtual machine"):
// maps N MiB of anonymous memory, with or without transparent huge pages, and times the first write to each page, a
// second pass over all of it, and a first write again after MADV_DONTNEED.
//
//   gcc -O2 bench/tools/first-touch.c -o first-touch && ./first-touch 400 1        # 400 MiB, huge pages advised
//   ./first-touch 400 0                                                           # 4 KiB pages
//
// On a virtual machine whose host takes back the memory the guest frees, the first touch of memory freed a while ago
// costs the host's faults too; run it twice in a row to see memory the host still backs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MiB huge(0|1)\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)atoi(argv[1]) << 20;
    int huge = atoi(argv[2]);
    size_t align = 2 << 20;
    char *base = mmap(NULL, n + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    char *p = (char *)(((size_t)base + align - 1) & ~(align - 1));
    if (huge) madvise(p, n, MADV_HUGEPAGE);
    double t = now();
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    printf("first touch of %zu MiB (huge pages %s): %.3f s\n", n >> 20, huge ? "advised" : "not advised", now() - t);
    t = now();
    memset(p, 2, n);
    printf("written again: %.3f s\n", now() - t);
    madvise(p, n, MADV_DONTNEED);
    t = now();
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    printf("first touch after MADV_DONTNEED: %.3f s\n", now() - t);
    return 0;
}
