// walbuf: a VFS that wraps SQLite's default one and coalesces the writes of
// the write-ahead log.
//
// SQLite appends a commit to the WAL as two write calls per page (a 24-byte
// frame header, then the page), then syncs. On the Linux hosts this project
// runs on, each of those writes costs 3-8 µs of kernel time to the page
// cache, and a group commit of a dozen pages spends more time in them than in
// the sync. walbuf keeps consecutive WAL writes in memory and hands them to
// the file as one write, so a commit is one write and one sync.
//
// What it may keep and for how long: bytes written to a WAL file reach the
// file before any of these returns, in this order of use by SQLite:
//   - xSync, xRead, xTruncate, xFileSize, xFileControl and xClose of that
//     WAL file (a read of the WAL by its writer sees what it wrote);
//   - a write that does not continue or overwrite the buffered range;
//   - xShmBarrier of any database file opened through walbuf: SQLite calls
//     it while it publishes a commit in the WAL index (walIndexWriteHdr), so
//     no reader, in this process or another, can be told of frames that are
//     still only here, whatever the synchronous setting.
// Under synchronous=FULL or EXTRA SQLite syncs the WAL before it publishes
// a commit, so the buffer is already empty then and a failed write is
// reported by that sync, failing the commit. The keystore uses walbuf only
// for such connections.
//
// Every other call goes to the wrapped file unchanged, and files other than
// WAL files are not buffered at all.

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "walvfs.h"

enum {
	walbufInitial = 64 << 10,
	walbufMax = 1 << 20, /* a larger write goes straight to the file */
	/* The most the default VFS writes in one call: it takes the size
	   modulo 128 KiB (seekAndWriteFd). 31 pages of 4 KiB. */
	walbufChunk = 31 << 12,
};

typedef struct walbufFile walbufFile;
struct walbufFile {
	sqlite3_file base; /* must be first */
	sqlite3_file *real; /* the wrapped file, stored right after this struct */
	int wal;            /* a WAL file: writes are buffered */
	/* WAL files only: */
	pthread_mutex_t mu;
	unsigned char *buf;
	int cap, len;
	sqlite3_int64 off; /* file offset of buf[0] */
	int err;           /* a failed flush that nobody could be told of */
	walbufFile *prev, *next;
};

static sqlite3_vfs *walbufReal;
/* Counters for tests: writes made to WAL files, and syncs of them. */
static unsigned long long walbufWriteCount, walbufSyncCount;
static pthread_mutex_t walbufListMu = PTHREAD_MUTEX_INITIALIZER;
static walbufFile *walbufList; /* every open WAL file */

#define REAL(f) (((walbufFile *)(f))->real)
#define RM(f) (REAL(f)->pMethods)

/* flushLocked writes the buffer out; p->mu is held. */
static int flushLocked(walbufFile *p) {
	int rc = SQLITE_OK;
	for (int done = 0; done < p->len && rc == SQLITE_OK; done += walbufChunk) {
		int n = p->len - done < walbufChunk ? p->len - done : walbufChunk;
		rc = p->real->pMethods->xWrite(p->real, p->buf + done, n, p->off + done);
		__atomic_fetch_add(&walbufWriteCount, 1, __ATOMIC_RELAXED);
	}
	p->len = 0;
	return rc;
}

/* flush writes the buffer out and returns any earlier failure first. */
static int flush(walbufFile *p) {
	int rc;
	pthread_mutex_lock(&p->mu);
	rc = flushLocked(p);
	if (p->err != SQLITE_OK) {
		rc = p->err;
		p->err = SQLITE_OK;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* flushAll writes out the buffers of every open WAL file. A failure is kept
   on the file and returned by its next call. */
static void flushAll(void) {
	walbufFile *p;
	pthread_mutex_lock(&walbufListMu);
	for (p = walbufList; p; p = p->next) {
		pthread_mutex_lock(&p->mu);
		int rc = flushLocked(p);
		if (rc != SQLITE_OK && p->err == SQLITE_OK) {
			p->err = rc;
		}
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_unlock(&walbufListMu);
}

/* Methods shared by all files: straight to the wrapped file. */

static int fwdClose(sqlite3_file *f) { return RM(f)->xClose(REAL(f)); }
static int fwdRead(sqlite3_file *f, void *b, int n, sqlite3_int64 off) { return RM(f)->xRead(REAL(f), b, n, off); }
static int fwdWrite(sqlite3_file *f, const void *b, int n, sqlite3_int64 off) { return RM(f)->xWrite(REAL(f), b, n, off); }
static int fwdTruncate(sqlite3_file *f, sqlite3_int64 size) { return RM(f)->xTruncate(REAL(f), size); }
static int fwdSync(sqlite3_file *f, int flags) { return RM(f)->xSync(REAL(f), flags); }
static int fwdFileSize(sqlite3_file *f, sqlite3_int64 *size) { return RM(f)->xFileSize(REAL(f), size); }
static int fwdLock(sqlite3_file *f, int l) { return RM(f)->xLock(REAL(f), l); }
static int fwdUnlock(sqlite3_file *f, int l) { return RM(f)->xUnlock(REAL(f), l); }
static int fwdCheckReservedLock(sqlite3_file *f, int *out) { return RM(f)->xCheckReservedLock(REAL(f), out); }
static int fwdFileControl(sqlite3_file *f, int op, void *arg) { return RM(f)->xFileControl(REAL(f), op, arg); }
static int fwdSectorSize(sqlite3_file *f) { return RM(f)->xSectorSize(REAL(f)); }
static int fwdDeviceCharacteristics(sqlite3_file *f) { return RM(f)->xDeviceCharacteristics(REAL(f)); }

static int fwdShmMap(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp) {
	if (RM(f)->iVersion < 2 || !RM(f)->xShmMap) {
		return SQLITE_IOERR;
	}
	return RM(f)->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int fwdShmLock(sqlite3_file *f, int off, int n, int flags) {
	if (RM(f)->iVersion < 2 || !RM(f)->xShmLock) {
		return SQLITE_IOERR;
	}
	return RM(f)->xShmLock(REAL(f), off, n, flags);
}
static int fwdShmUnmap(sqlite3_file *f, int del) {
	if (RM(f)->iVersion < 2 || !RM(f)->xShmUnmap) {
		return SQLITE_OK;
	}
	return RM(f)->xShmUnmap(REAL(f), del);
}
static int fwdFetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) {
	if (RM(f)->iVersion < 3 || !RM(f)->xFetch) {
		*pp = 0; /* no memory map: SQLite reads instead */
		return SQLITE_OK;
	}
	return RM(f)->xFetch(REAL(f), off, n, pp);
}
static int fwdUnfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
	if (RM(f)->iVersion < 3 || !RM(f)->xUnfetch) {
		return SQLITE_OK;
	}
	return RM(f)->xUnfetch(REAL(f), off, p);
}

/* xShmBarrier of a database file: SQLite is publishing a commit. */
static void dbShmBarrier(sqlite3_file *f) {
	flushAll();
	if (RM(f)->iVersion >= 2 && RM(f)->xShmBarrier) {
		RM(f)->xShmBarrier(REAL(f));
	}
}

/* WAL file methods. */

static int walWrite(sqlite3_file *f, const void *b, int n, sqlite3_int64 off) {
	walbufFile *p = (walbufFile *)f;
	int rc = SQLITE_OK;
	pthread_mutex_lock(&p->mu);
	if (p->err != SQLITE_OK) {
		rc = p->err;
		p->err = SQLITE_OK;
		goto out;
	}
	/* An overwrite inside the buffered range: patch the buffer. */
	if (p->len > 0 && off >= p->off && off + n <= p->off + p->len) {
		memcpy(p->buf + (off - p->off), b, n);
		goto out;
	}
	/* Anything but an append to the buffered range: write that out first. */
	if (p->len > 0 && off != p->off + p->len) {
		if ((rc = flushLocked(p)) != SQLITE_OK) {
			goto out;
		}
	}
	if (p->len + n > p->cap && p->cap < walbufMax) {
		int cap = p->cap ? p->cap : walbufInitial;
		while (cap < p->len + n && cap < walbufMax) {
			cap *= 2;
		}
		unsigned char *nb = realloc(p->buf, cap);
		if (nb) {
			p->buf = nb;
			p->cap = cap;
		}
	}
	if (p->len + n > p->cap) {
		if ((rc = flushLocked(p)) != SQLITE_OK) {
			goto out;
		}
		if (n > p->cap) {
			__atomic_fetch_add(&walbufWriteCount, 1, __ATOMIC_RELAXED);
			rc = fwdWrite(f, b, n, off);
			goto out;
		}
	}
	if (p->len == 0) {
		p->off = off;
	}
	memcpy(p->buf + p->len, b, n);
	p->len += n;
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static int walClose(sqlite3_file *f) {
	walbufFile *p = (walbufFile *)f;
	pthread_mutex_lock(&walbufListMu);
	if (p->prev) {
		p->prev->next = p->next;
	} else {
		walbufList = p->next;
	}
	if (p->next) {
		p->next->prev = p->prev;
	}
	pthread_mutex_unlock(&walbufListMu);
	int rc = flush(p);
	free(p->buf);
	p->buf = 0;
	pthread_mutex_destroy(&p->mu);
	int rc2 = fwdClose(f);
	return rc != SQLITE_OK ? rc : rc2;
}

static int walRead(sqlite3_file *f, void *b, int n, sqlite3_int64 off) {
	int rc = flush((walbufFile *)f);
	return rc != SQLITE_OK ? rc : fwdRead(f, b, n, off);
}
static int walTruncate(sqlite3_file *f, sqlite3_int64 size) {
	int rc = flush((walbufFile *)f);
	return rc != SQLITE_OK ? rc : fwdTruncate(f, size);
}
static int walSync(sqlite3_file *f, int flags) {
	__atomic_fetch_add(&walbufSyncCount, 1, __ATOMIC_RELAXED);
	int rc = flush((walbufFile *)f);
	return rc != SQLITE_OK ? rc : fwdSync(f, flags);
}
static int walFileSize(sqlite3_file *f, sqlite3_int64 *size) {
	int rc = flush((walbufFile *)f);
	return rc != SQLITE_OK ? rc : fwdFileSize(f, size);
}
static int walFileControl(sqlite3_file *f, int op, void *arg) {
	int rc = flush((walbufFile *)f);
	return rc != SQLITE_OK ? rc : fwdFileControl(f, op, arg);
}

static const sqlite3_io_methods walbufDBMethods = {
	3, fwdClose, fwdRead, fwdWrite, fwdTruncate, fwdSync, fwdFileSize, fwdLock, fwdUnlock,
	fwdCheckReservedLock, fwdFileControl, fwdSectorSize, fwdDeviceCharacteristics,
	fwdShmMap, fwdShmLock, dbShmBarrier, fwdShmUnmap, fwdFetch, fwdUnfetch,
};

static const sqlite3_io_methods walbufWALMethods = {
	3, walClose, walRead, walWrite, walTruncate, walSync, walFileSize, fwdLock, fwdUnlock,
	fwdCheckReservedLock, walFileControl, fwdSectorSize, fwdDeviceCharacteristics,
	fwdShmMap, fwdShmLock, dbShmBarrier, fwdShmUnmap, fwdFetch, fwdUnfetch,
};

static int walbufOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outFlags) {
	walbufFile *p = (walbufFile *)f;
	memset(p, 0, sizeof(*p));
	p->real = (sqlite3_file *)&p[1];
	int rc = walbufReal->xOpen(walbufReal, name, p->real, flags, outFlags);
	if (!p->real->pMethods) {
		/* Nothing to close: SQLite will not call xClose either. */
		p->base.pMethods = 0;
		return rc;
	}
	if (!(flags & SQLITE_OPEN_WAL)) {
		p->base.pMethods = &walbufDBMethods;
		return rc;
	}
	p->wal = 1;
	pthread_mutex_init(&p->mu, 0);
	pthread_mutex_lock(&walbufListMu);
	p->next = walbufList;
	if (walbufList) {
		walbufList->prev = p;
	}
	walbufList = p;
	pthread_mutex_unlock(&walbufListMu);
	p->base.pMethods = &walbufWALMethods;
	return rc;
}

/* VFS methods other than xOpen: those of the wrapped VFS. */

static int vfsDelete(sqlite3_vfs *v, const char *n, int s) { return walbufReal->xDelete(walbufReal, n, s); }
static int vfsAccess(sqlite3_vfs *v, const char *n, int fl, int *out) { return walbufReal->xAccess(walbufReal, n, fl, out); }
static int vfsFullPathname(sqlite3_vfs *v, const char *n, int nOut, char *out) {
	return walbufReal->xFullPathname(walbufReal, n, nOut, out);
}
static void *vfsDlOpen(sqlite3_vfs *v, const char *n) { return walbufReal->xDlOpen(walbufReal, n); }
static void vfsDlError(sqlite3_vfs *v, int n, char *msg) { walbufReal->xDlError(walbufReal, n, msg); }
static void (*vfsDlSym(sqlite3_vfs *v, void *h, const char *sym))(void) { return walbufReal->xDlSym(walbufReal, h, sym); }
static void vfsDlClose(sqlite3_vfs *v, void *h) { walbufReal->xDlClose(walbufReal, h); }
static int vfsRandomness(sqlite3_vfs *v, int n, char *out) { return walbufReal->xRandomness(walbufReal, n, out); }
static int vfsSleep(sqlite3_vfs *v, int us) { return walbufReal->xSleep(walbufReal, us); }
static int vfsCurrentTime(sqlite3_vfs *v, double *t) { return walbufReal->xCurrentTime(walbufReal, t); }
static int vfsGetLastError(sqlite3_vfs *v, int n, char *msg) { return walbufReal->xGetLastError(walbufReal, n, msg); }
static int vfsCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *t) {
	if (walbufReal->iVersion >= 2 && walbufReal->xCurrentTimeInt64) {
		return walbufReal->xCurrentTimeInt64(walbufReal, t);
	}
	double d;
	int rc = walbufReal->xCurrentTime(walbufReal, &d);
	*t = (sqlite3_int64)(d * 86400000.0);
	return rc;
}

static sqlite3_vfs walbufVFS;

void walbufCounts(unsigned long long *writes, unsigned long long *syncs) {
	*writes = __atomic_load_n(&walbufWriteCount, __ATOMIC_RELAXED);
	*syncs = __atomic_load_n(&walbufSyncCount, __ATOMIC_RELAXED);
}

int walbufRegister(const char *name) {
	if (!sqlite3_vfs_find || !sqlite3_vfs_register) {
		return SQLITE_ERROR;
	}
	walbufReal = sqlite3_vfs_find(0);
	if (!walbufReal) {
		return SQLITE_ERROR;
	}
	walbufVFS.iVersion = 2;
	walbufVFS.szOsFile = (int)sizeof(walbufFile) + walbufReal->szOsFile;
	walbufVFS.mxPathname = walbufReal->mxPathname;
	walbufVFS.zName = strdup(name);
	walbufVFS.xOpen = walbufOpen;
	walbufVFS.xDelete = vfsDelete;
	walbufVFS.xAccess = vfsAccess;
	walbufVFS.xFullPathname = vfsFullPathname;
	walbufVFS.xDlOpen = vfsDlOpen;
	walbufVFS.xDlError = vfsDlError;
	walbufVFS.xDlSym = vfsDlSym;
	walbufVFS.xDlClose = vfsDlClose;
	walbufVFS.xRandomness = vfsRandomness;
	walbufVFS.xSleep = vfsSleep;
	walbufVFS.xCurrentTime = vfsCurrentTime;
	walbufVFS.xGetLastError = vfsGetLastError;
	walbufVFS.xCurrentTimeInt64 = vfsCurrentTimeInt64;
	return sqlite3_vfs_register(&walbufVFS, 0);
}
