/* The tiny child the supervisor benchmark supervises: appends "<pid> <start ns>" to the file in
   $START_LOG, then
     run    — waits forever (idle, no CPU);
     exit   — exits 1 at once;
     grand  — forks a grandchild that writes its pid to $GRAND_PID and waits forever, then
              waits itself. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const char *log = getenv("START_LOG");
    if (log) {
        FILE *f = fopen(log, "a");
        if (f) {
            fprintf(f, "%d %lld\n", (int)getpid(), (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
            fclose(f);
        }
    }
    const char *mode = argc > 1 ? argv[1] : "run";
    if (strcmp(mode, "exit") == 0) return 1;
    if (strcmp(mode, "grand") == 0) {
        pid_t g = fork();
        if (g == 0) {
            const char *gp = getenv("GRAND_PID");
            if (gp) {
                FILE *f = fopen(gp, "w");
                if (f) { fprintf(f, "%d\n", (int)getpid()); fclose(f); }
            }
            for (;;) pause();
        }
    }
    for (;;) pause();
}
