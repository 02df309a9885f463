/*
 * th_seg.h — reaching a test broker's shared-memory segments from a test
 * (docs/shm.md): the name prefix of a broker's segments, and mapping the
 * segment of a queue, to stop, scribble on or inspect it.
 */
#ifndef TH_SEG_H
#define TH_SEG_H

#include <stddef.h>

#include "ipcqi_seg.h"

/* "ipcq-<euid>-<FNV-1a 64 of url>-" (broker/segment.c). */
void th_seg_prefix(const char *url, char *buf, size_t len);

/* The files of url's broker in /dev/shm: the number of queue segments,
 * and in *bells (if not NULL) the number of doorbells
 * (<prefix>bell-<random>, docs/shm.md). */
int th_seg_count(const char *url, int *bells);

/* Every file of url's broker in /dev/shm: segments and doorbells. */
int th_seg_files(const char *url);

/* Map the segment of queue of th_url()'s broker; its file name (under
 * /dev/shm) in path if not NULL. Fails the test if there is none. */
void th_seg_map(const char *queue, ipcqi_seg *seg, char *path, size_t len);

/* Whether /dev/shm/<file> is a valid, undeleted queue segment that holds
 * messages or leases: what a broker's clean stop keeps (docs/broker.md,
 * "Shutdown"). */
int th_seg_file_holds_messages(const char *file);

#endif
