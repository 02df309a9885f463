/*
 * Broker logging: one line per event on stderr, with level and place.
 * The level is process-wide (set once by main before threads start).
 */
#ifndef IPCQD_LOG_H
#define IPCQD_LOG_H

typedef enum ipcqd_log_level {
	IPCQD_LOG_ERROR = 0,
	IPCQD_LOG_WARN  = 1,
	IPCQD_LOG_INFO  = 2,
	IPCQD_LOG_DEBUG = 3,
} ipcqd_log_level;

void ipcqd_log_set_level(ipcqd_log_level lvl);
/* Send the log (stderr) to path, appended, created 0640: 0, or -1 with
 * errno. ipcqd_log_reopen opens the same path again (after a rotation
 * renamed it): 0, 1 when no --log-file was given, -1 with errno (the
 * old file stays in use). */
int  ipcqd_log_open(const char *path);
int  ipcqd_log_reopen(void);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int  ipcqd_log_parse_level(const char *s);
int  ipcqd_log_enabled(ipcqd_log_level lvl);
void ipcqd_log_at(ipcqd_log_level lvl, const char *place, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define IPCQD_LOG(lvl, ...)                                           \
	do {                                                          \
		if (ipcqd_log_enabled(lvl))                           \
			ipcqd_log_at(lvl, __func__, __VA_ARGS__);     \
	} while (0)
#define ipcqd_error(...) IPCQD_LOG(IPCQD_LOG_ERROR, __VA_ARGS__)
#define ipcqd_warn(...)  IPCQD_LOG(IPCQD_LOG_WARN, __VA_ARGS__)
#define ipcqd_info(...)  IPCQD_LOG(IPCQD_LOG_INFO, __VA_ARGS__)
#define ipcqd_debug(...) IPCQD_LOG(IPCQD_LOG_DEBUG, __VA_ARGS__)

#endif
