/*
 * Shared internals of the broker and libipcq (prefix ipcqi_): the few
 * rules both sides must apply identically. Together with ipcq.proto this
 * is the whole broker<->client contract; nothing else is shared.
 */
#ifndef IPCQI_COMMON_H
#define IPCQI_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Queue names: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. */
#define IPCQI_NAME_MAX 128

/* Largest frame a broker accepts by default (NNG_OPT_RECVMAXSZ), and the
 * largest payload a queue may be configured to hold. The frame leaves
 * room for protobuf framing around a maximal payload. */
#define IPCQI_MAX_MESSAGE_BYTES (16u * 1024 * 1024)
#define IPCQI_FRAME_OVERHEAD    (64u * 1024)
#define IPCQI_DEFAULT_MAX_FRAME (IPCQI_MAX_MESSAGE_BYTES + IPCQI_FRAME_OVERHEAD)

/* Most messages in one SendRequest and most ids in one AckRequest: a
 * frame of empty payloads would otherwise cost the broker 16 bytes of
 * bookkeeping per 2 bytes received. libipcq splits batches far below. */
#define IPCQI_MAX_BATCH 65536u

/* Queue defaults, used when an open that creates a queue leaves them 0.
 * They bound broker memory per queue: 64 MiB or 100k messages. */
#define IPCQI_DEFAULT_MAX_MESSAGES      100000u
#define IPCQI_DEFAULT_MAX_BYTES         (64u * 1024 * 1024)
#define IPCQI_DEFAULT_MAX_MESSAGE_BYTES (4u * 1024 * 1024)

/* A pause inside a spin-wait loop (the CPU's hint that we are spinning). */
#if defined(__x86_64__) || defined(__i386__)
#define IPCQI_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define IPCQI_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define IPCQI_CPU_RELAX() ((void) 0)
#endif

/* Non-zero if name is a valid queue name (NUL-terminated). */
int ipcqi_name_valid(const char *name);

/* Same check for a counted string (protobuf strings are NUL-terminated,
 * but the length is checked against the limit before anything else). */
int ipcqi_name_valid_n(const char *name, size_t len);

/* The default runtime directory: "$XDG_RUNTIME_DIR/ipcq" if that variable
 * names an absolute path, else "/tmp/ipcq-$UID". 0 on success, -1 if buf
 * is too small. */
int ipcqi_default_dir(char *buf, size_t len);

/* "ipc://" + ipcqi_default_dir() + "/ipcqd.sock". */
int ipcqi_default_url(char *buf, size_t len);

#endif
