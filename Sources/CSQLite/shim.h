#ifndef WIRELOG_CSQLITE_SHIM_H
#define WIRELOG_CSQLITE_SHIM_H
#include <sqlite3.h>

// sqlite3_config is variadic, which Swift cannot call. Memory statistics are off: with them on,
// every SQLite allocation takes a process-wide mutex, and wirelog never reads them. Must run
// before the first connection opens; SQLITE_MISUSE afterwards, which is harmless.
static inline int wirelog_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
#endif
