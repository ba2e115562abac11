/* Legacy C code that synchronises with pthreads: an embedded store whose one mutex is held
 * across a sleep and a file write (the way an embedded database holds its lock across its
 * journal I/O), a bounded queue on a mutex and two condition variables, a recursive and an
 * error-checking mutex, an rwlock and a counting semaphore. Every critical section counts who
 * is inside it with atomics, so a test can tell mutual exclusion held. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void enter(long *inside, long *violations) {
    if (__atomic_add_fetch(inside, 1, __ATOMIC_SEQ_CST) != 1)
        __atomic_add_fetch(violations, 1, __ATOMIC_SEQ_CST);
}

static void leave(long *inside) { __atomic_sub_fetch(inside, 1, __ATOMIC_SEQ_CST); }

/* ---- the store ---- */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static long store_counter, store_inside, store_violations;

int locks_store_put(int fd, int hold_ms) {
    int r = pthread_mutex_lock(&store_lock);
    if (r != 0) return r;
    enter(&store_inside, &store_violations);
    long v = store_counter;
    sleep_ms(hold_ms);
    int err = 0;
    if (fd >= 0 && write(fd, "x", 1) != 1) err = errno;
    store_counter = v + 1;
    leave(&store_inside);
    r = pthread_mutex_unlock(&store_lock);
    return err ? err : r;
}

long locks_store_counter(void) { return store_counter; }
long locks_store_violations(void) { return store_violations; }

/* ---- the bounded queue ---- */
#define QCAP 4
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_not_full = PTHREAD_COND_INITIALIZER;
static long q_items[QCAP];
static int q_head, q_len;

int locks_queue_put(long v) {
    pthread_mutex_lock(&q_lock);
    while (q_len == QCAP) pthread_cond_wait(&q_not_full, &q_lock);
    q_items[(q_head + q_len) % QCAP] = v;
    q_len++;
    pthread_cond_signal(&q_not_empty);
    return pthread_mutex_unlock(&q_lock);
}

/* Takes an item into *out, waiting at most timeout_ms (CLOCK_REALTIME deadline, as
 * pthread_cond_timedwait's default clock is). 0 or ETIMEDOUT. */
int locks_queue_get(long *out, int timeout_ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q_lock);
    int r = 0;
    while (q_len == 0 && r == 0) r = pthread_cond_timedwait(&q_not_empty, &q_lock, &deadline);
    if (q_len > 0) {
        *out = q_items[q_head];
        q_head = (q_head + 1) % QCAP;
        q_len--;
        pthread_cond_signal(&q_not_full);
        r = 0;
    }
    pthread_mutex_unlock(&q_lock);
    return r;
}

/* ---- recursive and error-checking mutexes ---- */
static pthread_mutex_t rec_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static long rec_inside, rec_violations;

/* Locks twice, sleeps inside, unlocks twice: 0, or the first failing call's error. */
int locks_recursive(int hold_ms) {
    int r = pthread_mutex_lock(&rec_lock);
    if (r != 0) return r;
    r = pthread_mutex_lock(&rec_lock);
    if (r != 0) return r;
    enter(&rec_inside, &rec_violations);
    sleep_ms(hold_ms);
    leave(&rec_inside);
    r = pthread_mutex_unlock(&rec_lock);
    if (r != 0) return r;
    sleep_ms(1);
    return pthread_mutex_unlock(&rec_lock);
}

long locks_recursive_violations(void) { return rec_violations; }

static pthread_mutex_t check_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

int locks_errorcheck_lock(void) { return pthread_mutex_lock(&check_lock); }
int locks_errorcheck_unlock(void) { return pthread_mutex_unlock(&check_lock); }

/* ---- rwlock ---- */
static pthread_rwlock_t rw_lock = PTHREAD_RWLOCK_INITIALIZER;
static long rw_readers, rw_writers, rw_max_readers, rw_violations;

int locks_rw(int write, int hold_ms) {
    int r = write ? pthread_rwlock_wrlock(&rw_lock) : pthread_rwlock_rdlock(&rw_lock);
    if (r != 0) return r;
    if (write) {
        if (__atomic_add_fetch(&rw_writers, 1, __ATOMIC_SEQ_CST) != 1 ||
            __atomic_load_n(&rw_readers, __ATOMIC_SEQ_CST) != 0)
            __atomic_add_fetch(&rw_violations, 1, __ATOMIC_SEQ_CST);
    } else {
        long n = __atomic_add_fetch(&rw_readers, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&rw_writers, __ATOMIC_SEQ_CST) != 0)
            __atomic_add_fetch(&rw_violations, 1, __ATOMIC_SEQ_CST);
        long max = __atomic_load_n(&rw_max_readers, __ATOMIC_SEQ_CST);
        while (n > max && !__atomic_compare_exchange_n(&rw_max_readers, &max, n, 0,
                                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        }
    }
    sleep_ms(hold_ms);
    if (write)
        __atomic_sub_fetch(&rw_writers, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_sub_fetch(&rw_readers, 1, __ATOMIC_SEQ_CST);
    return pthread_rwlock_unlock(&rw_lock);
}

long locks_rw_violations(void) { return rw_violations; }
long locks_rw_max_readers(void) { return rw_max_readers; }

/* ---- counting semaphore ---- */
static sem_t sem;
static long sem_inside, sem_max;

int locks_sem_init(unsigned units) { return sem_init(&sem, 0, units); }

int locks_sem_use(int hold_ms) {
    if (sem_wait(&sem) != 0) return errno;
    long n = __atomic_add_fetch(&sem_inside, 1, __ATOMIC_SEQ_CST);
    long max = __atomic_load_n(&sem_max, __ATOMIC_SEQ_CST);
    while (n > max && !__atomic_compare_exchange_n(&sem_max, &max, n, 0, __ATOMIC_SEQ_CST,
                                                   __ATOMIC_SEQ_CST)) {
    }
    sleep_ms(hold_ms);
    __atomic_sub_fetch(&sem_inside, 1, __ATOMIC_SEQ_CST);
    return sem_post(&sem) != 0 ? errno : 0;
}

long locks_sem_max(void) { return sem_max; }
