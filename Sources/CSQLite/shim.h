#ifndef WIRELOG_CSQLITE_SHIM_H
#define WIRELOG_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
