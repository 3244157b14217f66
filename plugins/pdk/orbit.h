/*
 * orbit.h — the kit for writing Orbit plugins in C (ABI version 1).
 *
 * The same surface as the Go kit (plugins/pdk): handlers, named errors,
 * log, config, key-value store, HTTP through the host, the task's context.
 * Single header: include it everywhere, and in exactly one file define
 * ORBIT_IMPLEMENTATION before including it.
 *
 * A reactor (fast: one instance serves many calls), with wasi-sdk:
 *
 *     #define ORBIT_IMPLEMENTATION
 *     #include "orbit.h"
 *
 *     static uint64_t score(const char *input, size_t len) {
 *         char url[256];
 *         int32_t n = orbit_config("endpoint", url, sizeof url - 1);
 *         if (n < 0 || n >= (int32_t)sizeof url) return orbit_fail("Fraud.Misconfigured", "no endpoint");
 *         ...
 *         return orbit_result("{\"risk\":0.1}", 12);
 *     }
 *     ORBIT_HANDLER(score)
 *
 *     clang --target=wasm32-wasip1 -mexec-model=reactor -O2 -o score.wasm score.c
 *
 * A command (portable: a fresh instance per call) instead has
 *
 *     int main(int argc, char **argv) {
 *         static const struct orbit_route routes[] = { { "score", score } };
 *         return orbit_command(argc, argv, routes, 1);
 *     }
 *
 * and is built without -mexec-model=reactor.
 *
 * Host functions that yield a value take a buffer and return the value's
 * full length n: when n <= cap the value is in the buffer; otherwise fetch
 * it with orbit_read into a buffer of n bytes. A negative return is one of
 * the ORBIT_E* codes, and orbit_read then yields the host's explanation.
 */
#ifndef ORBIT_H
#define ORBIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ORBIT_ABI_VERSION 1

/* Negative results of the host functions. */
#define ORBIT_ENOTFOUND (-1) /* config key or KV key absent */
#define ORBIT_EDENIED (-2)   /* URL host not in the manifest's allowed_hosts */
#define ORBIT_EINVALID (-3)  /* malformed request, or a buffer outside memory */
#define ORBIT_EFAILED (-4)   /* the operation failed (connection, store) */
#define ORBIT_ENODATA (-5)   /* orbit_read with nothing pending */
#define ORBIT_EQUOTA (-6)    /* orbit_kv_put would go over the manifest's kv_quota */

/* Log levels. */
#define ORBIT_DEBUG 0
#define ORBIT_INFO 1
#define ORBIT_WARN 2
#define ORBIT_ERROR 3

#if defined(__wasm__)
#define ORBIT_IMPORT(name) __attribute__((import_module("orbit"), import_name(#name)))
#define ORBIT_EXPORT(name) __attribute__((export_name(#name)))
#else /* so that handlers compile, and can be unit-tested, natively */
#define ORBIT_IMPORT(name)
#define ORBIT_EXPORT(name)
#endif

/* The host functions, as the ABI defines them (plugins/abi.go). */
ORBIT_IMPORT(log) void orbit_host_log(int32_t level, const char *msg, int32_t len);
ORBIT_IMPORT(config_get) int32_t orbit_host_config_get(const char *key, int32_t key_len, char *buf, int32_t cap);
ORBIT_IMPORT(kv_get) int32_t orbit_host_kv_get(const char *key, int32_t key_len, char *buf, int32_t cap);
ORBIT_IMPORT(kv_put) int32_t orbit_host_kv_put(const char *key, int32_t key_len, const void *val, int32_t len);
ORBIT_IMPORT(http_request) int32_t orbit_host_http_request(const char *req, int32_t req_len, char *buf, int32_t cap);
ORBIT_IMPORT(context_get) int32_t orbit_host_context_get(char *buf, int32_t cap);
ORBIT_IMPORT(read) int32_t orbit_host_read(char *buf, int32_t cap);

/* Writes a line to Orbit's log, tagged with the plugin and the task. */
void orbit_log(int32_t level, const char *msg);

/* The manifest's config value for key (NUL-terminated). */
int32_t orbit_config(const char *key, char *buf, int32_t cap);

/* The plugin's own key-value store (keys up to 1 KiB, values up to 1 MiB).
 * A put of an empty value deletes the key; one that would take the plugin's
 * keys and values over the manifest's kv_quota is ORBIT_EQUOTA. */
int32_t orbit_kv_get(const char *key, char *buf, int32_t cap);
int32_t orbit_kv_put(const char *key, const void *val, int32_t len);

/*
 * An HTTP request through the host. req is JSON:
 *   {"method":"POST","url":"https://...","headers":{...},"body":"...","timeout_ms":500}
 * The value is {"status":200,"headers":{...},"body":"..."}; any status is a
 * response. A host outside allowed_hosts is ORBIT_EDENIED.
 */
int32_t orbit_http_request(const char *req, int32_t len, char *buf, int32_t cap);

/* The task's context: {"instance","workflow","version","state","attempt",
 * "visit","idempotency_key","traceparent"}. */
int32_t orbit_context(char *buf, int32_t cap);

/* Fetches the pending value or explanation of the last host call. */
int32_t orbit_read(char *buf, int32_t cap);

/*
 * Replies, returned by a handler: a JSON result (any JSON text), or a named
 * error that workflows retry and catch by name. The reply lives in a buffer
 * the kit owns until the next call.
 */
uint64_t orbit_result(const char *json, size_t len);
uint64_t orbit_fail(const char *name, const char *cause);

/* A handler takes the JSON input (valid during the call) and returns a reply. */
typedef uint64_t (*orbit_handler)(const char *input, size_t len);

/* Exports fn as a routine or hook of the same name. */
#define ORBIT_HANDLER(fn)                                                   \
	ORBIT_EXPORT(fn) uint64_t orbit_export_##fn(uint32_t ptr, uint32_t len) { \
		return fn((const char *)(uintptr_t)ptr, len);                       \
	}

/* A command module's main: dispatches argv[1] to a route, input on stdin,
 * reply on stdout. */
struct orbit_route {
	const char *name;
	orbit_handler fn;
};
int orbit_command(int argc, char **argv, const struct orbit_route *routes, size_t n);

#ifdef ORBIT_IMPLEMENTATION

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *orbit_in_;         /* the input buffer the host writes */
static char *orbit_out_;        /* the last reply */
static size_t orbit_out_cap_;

ORBIT_EXPORT(orbit_abi_version) int32_t orbit_abi_version(void) { return ORBIT_ABI_VERSION; }

/* The host asks for the input buffer before each call; the previous one is
 * no longer needed by then. */
ORBIT_EXPORT(orbit_alloc) uint32_t orbit_alloc(uint32_t size) {
	free(orbit_in_);
	orbit_in_ = malloc(size ? size : 1);
	return (uint32_t)(uintptr_t)orbit_in_;
}

void orbit_log(int32_t level, const char *msg) { orbit_host_log(level, msg, (int32_t)strlen(msg)); }

int32_t orbit_config(const char *key, char *buf, int32_t cap) {
	return orbit_host_config_get(key, (int32_t)strlen(key), buf, cap);
}

int32_t orbit_kv_get(const char *key, char *buf, int32_t cap) {
	return orbit_host_kv_get(key, (int32_t)strlen(key), buf, cap);
}

int32_t orbit_kv_put(const char *key, const void *val, int32_t len) {
	return orbit_host_kv_put(key, (int32_t)strlen(key), val, len);
}

int32_t orbit_http_request(const char *req, int32_t len, char *buf, int32_t cap) {
	return orbit_host_http_request(req, len, buf, cap);
}

int32_t orbit_context(char *buf, int32_t cap) { return orbit_host_context_get(buf, cap); }

int32_t orbit_read(char *buf, int32_t cap) { return orbit_host_read(buf, cap); }

/* orbit_reserve_ makes room for n more bytes of reply after used. */
static int orbit_reserve_(size_t used, size_t n) {
	if (used + n <= orbit_out_cap_) return 1;
	size_t cap = orbit_out_cap_ ? orbit_out_cap_ : 256;
	while (cap < used + n) cap *= 2;
	char *p = realloc(orbit_out_, cap);
	if (!p) return 0;
	orbit_out_ = p;
	orbit_out_cap_ = cap;
	return 1;
}

static uint64_t orbit_packed_(size_t len) {
	return ((uint64_t)(uintptr_t)orbit_out_ << 32) | (uint64_t)len;
}

uint64_t orbit_result(const char *json, size_t len) {
	static const char head[] = "{\"result\":";
	size_t h = sizeof head - 1;
	if (!orbit_reserve_(0, h + len + 1)) return 0; /* out of memory: an empty reply is null */
	memcpy(orbit_out_, head, h);
	memcpy(orbit_out_ + h, json, len);
	orbit_out_[h + len] = '}';
	return orbit_packed_(h + len + 1);
}

/* orbit_quote_ appends s as a JSON string at used; returns the new length,
 * or 0 when memory ran out. */
static size_t orbit_quote_(size_t used, const char *s) {
	static const char hex[] = "0123456789abcdef";
	if (!orbit_reserve_(used, strlen(s) * 6 + 2)) return 0;
	orbit_out_[used++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			orbit_out_[used++] = '\\';
			orbit_out_[used++] = (char)c;
		} else if (c < 0x20) {
			memcpy(orbit_out_ + used, "\\u00", 4);
			orbit_out_[used + 4] = hex[c >> 4];
			orbit_out_[used + 5] = hex[c & 15];
			used += 6;
		} else {
			orbit_out_[used++] = (char)c;
		}
	}
	orbit_out_[used++] = '"';
	return used;
}

static size_t orbit_append_(size_t used, const char *s) {
	size_t n = strlen(s);
	if (!orbit_reserve_(used, n)) return 0;
	memcpy(orbit_out_ + used, s, n);
	return used + n;
}

uint64_t orbit_fail(const char *name, const char *cause) {
	size_t n = orbit_append_(0, "{\"error\":");
	if (n) n = orbit_quote_(n, name);
	if (n) n = orbit_append_(n, ",\"cause\":");
	if (n) n = orbit_quote_(n, cause ? cause : "");
	if (n) n = orbit_append_(n, "}");
	return n ? orbit_packed_(n) : 0;
}

int orbit_command(int argc, char **argv, const struct orbit_route *routes, size_t n) {
	size_t len = 0, cap = 4096;
	char *in = malloc(cap);
	size_t got;
	while (in && (got = fread(in + len, 1, cap - len, stdin)) > 0) {
		len += got;
		if (len == cap) {
			char *p = realloc(in, cap *= 2);
			if (!p) break;
			in = p;
		}
	}
	uint64_t reply = orbit_fail("Plugin.NotFound", "the command has no such function");
	for (size_t i = 0; argc > 1 && i < n; i++) {
		if (strcmp(routes[i].name, argv[1]) == 0) {
			reply = routes[i].fn(in ? in : "", len);
			break;
		}
	}
	free(in);
	/* Every reply is built in orbit_out_; its length is the low half. */
	if ((uint32_t)reply) fwrite(orbit_out_, 1, (size_t)(uint32_t)reply, stdout);
	return 0;
}

#endif /* ORBIT_IMPLEMENTATION */

#ifdef __cplusplus
}
#endif

#endif /* ORBIT_H */
