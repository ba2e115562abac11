/* What the stack arena's madvise calls cost on this machine (shim/src/stacks/arena.rs).
 *
 *   cc -O2 -pthread benches/probes/madvise_cost.c -o target/madvise_cost
 *   target/madvise_cost        # this thread alone
 *   target/madvise_cost spin   # with a second thread of the process running on another CPU,
 *                              # as a runtime's workers are: every flush then needs an IPI
 *
 * 15 000 slots of 17 pages (a 64 KiB stack and its guard page) in one MAP_NORESERVE mapping:
 * guard pages installed one madvise(MADV_GUARD_INSTALL) per slot, then 1024 per
 * process_madvise call; two pages of each slot touched; then every other slot's pages returned
 * with one madvise(MADV_DONTNEED) each, against one process_madvise per 1024 slots. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define GUARD_INSTALL 102
#define PAGE 4096
#define SLOT (17 * PAGE)
#define SLOTS 15000

static volatile int stop;
static void *spin(void *arg) { (void)arg; while (!stop) {} return 0; }
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Applies `advice` to `count` ranges starting at slot `first`, `step` slots apart, with
 * process_madvise, 1024 ranges per call. */
static int vectored(int pidfd, char *p, size_t first, size_t count, size_t step, size_t off,
                    size_t len, int advice) {
    struct iovec iov[1024];
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        iov[k].iov_base = p + (first + i * step) * SLOT + off;
        iov[k].iov_len = len;
        if (++k == 1024 || i + 1 == count) {
            if (syscall(SYS_process_madvise, pidfd, iov, k, advice, 0) < 0) return -1;
            k = 0;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    pthread_t th;
    if (argc > 1) pthread_create(&th, 0, spin, 0);
    char *p = mmap(0, (size_t)SLOT * SLOTS, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    int pidfd = syscall(SYS_pidfd_open, getpid(), 0);
    size_t half = SLOTS / 2;
    double t = now();
    for (size_t i = 0; i < half; i++)
        if (madvise(p + i * SLOT, PAGE, GUARD_INSTALL)) { perror("madvise"); return 1; }
    printf("guard, one madvise per slot:       %.2f us/slot\n", (now() - t) / half * 1e6);
    t = now();
    if (vectored(pidfd, p, half, SLOTS - half, 1, 0, PAGE, GUARD_INSTALL)) { perror("pm"); return 1; }
    printf("guard, process_madvise of 1024:    %.2f us/slot\n", (now() - t) / (SLOTS - half) * 1e6);
    for (size_t i = 0; i < SLOTS; i++) { p[i * SLOT + PAGE] = 1; p[i * SLOT + SLOT - 8] = 1; }
    size_t quarter = SLOTS / 4;
    t = now();
    for (size_t i = 0; i < quarter; i++)
        madvise(p + 2 * i * SLOT + PAGE, SLOT - PAGE, MADV_DONTNEED);
    printf("dontneed, one madvise per slot:    %.2f us/slot\n", (now() - t) / quarter * 1e6);
    t = now();
    if (vectored(pidfd, p, 2 * quarter, quarter, 2, PAGE, SLOT - PAGE, MADV_DONTNEED)) { perror("pm"); return 1; }
    printf("dontneed, process_madvise of 1024: %.2f us/slot\n", (now() - t) / quarter * 1e6);
    stop = 1;
    return 0;
}
