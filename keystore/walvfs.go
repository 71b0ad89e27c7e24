package keystore

/*
#include <stdlib.h>
#include "walvfs.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// walbufVFS is the name of the SQLite VFS in walvfs.c: the default VFS with
// the writes of the write-ahead log coalesced, one write per commit instead
// of two per page. The writer connection uses it when every commit syncs
// the WAL (synchronous FULL or EXTRA); see walvfs.c for why that matters.
const walbufVFS = "xi-walbuf"

// registerWalbuf registers walbufVFS once per process.
var registerWalbuf = sync.OnceValue(func() error {
	name := C.CString(walbufVFS)
	defer C.free(unsafe.Pointer(name))
	if rc := C.walbufRegister(name); rc != C.SQLITE_OK {
		return fmt.Errorf("register SQLite VFS %s: error %d", walbufVFS, int(rc))
	}
	return nil
})

// walbufCounts returns how many writes walbufVFS made to WAL files and how
// many times it synced them, in this process.
func walbufCounts() (writes, syncs uint64) {
	var w, s C.ulonglong
	C.walbufCounts(&w, &s)
	return uint64(w), uint64(s)
}
