/*
 * cguest is the C test plugin: the exports of the Go test guest
 * (plugins/testdata/guest), each behaving or misbehaving the same way,
 * written with plugins/pdk/orbit.h so that the tests prove the C kit
 * against the host. Built twice by plugins/build.sh: as a reactor, and
 * with -DORBIT_COMMAND as a command that serves echo and fail.
 */
#define ORBIT_IMPLEMENTATION
#include "orbit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- just enough JSON for the tests' inputs ----------------------------- */

/* field finds "key": in the flat object the host encodes (compact, keys
 * sorted) and returns where its value starts, or NULL. */
static const char *field(const char *in, size_t len, const char *key) {
	size_t k = strlen(key);
	for (size_t i = 0; i + k + 3 <= len; i++) {
		if (in[i] == '"' && memcmp(in + i + 1, key, k) == 0 && in[i + k + 1] == '"' && in[i + k + 2] == ':') {
			return in + i + k + 3;
		}
	}
	return NULL;
}

/* str_field copies a string value, unescaping \" and \\, into a buffer
 * it allocates; "" when absent. */
static char *str_field(const char *in, size_t len, const char *key) {
	const char *v = field(in, len, key);
	const char *end = in + len;
	char *out = malloc(len + 1), *o = out;
	if (v && v < end && *v == '"') {
		for (v++; v < end && *v != '"'; v++) {
			if (*v == '\\' && v + 1 < end) v++;
			*o++ = *v;
		}
	}
	*o = 0;
	return out;
}

static long int_field(const char *in, size_t len, const char *key) {
	const char *v = field(in, len, key);
	return v ? strtol(v, NULL, 10) : 0;
}

/* quote appends s as a JSON string to out and returns the new end. */
static char *quote(char *out, const char *s) {
	*out++ = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') *out++ = '\\';
		if ((unsigned char)*s < 0x20) {
			out += sprintf(out, "\\u%04x", *s);
			continue;
		}
		*out++ = *s;
	}
	*out++ = '"';
	return out;
}

/* explanation fetches what the host said about its last refusal. */
static char *explanation(void) {
	char *buf = calloc(1, 4096);
	int32_t n = orbit_read(buf, 4095);
	if (n < 0 || n > 4095) buf[0] = 0;
	return buf;
}

static uint64_t result(const char *json) { return orbit_result(json, strlen(json)); }

/* --- the exports -------------------------------------------------------- */

static uint64_t echo(const char *input, size_t len) {
	return len ? orbit_result(input, len) : result("null");
}
ORBIT_HANDLER(echo)

/* echo_raw is echo: C decodes nothing it is not asked to. */
static uint64_t echo_raw(const char *input, size_t len) { return echo(input, len); }
ORBIT_HANDLER(echo_raw)

static uint64_t fail(const char *input, size_t len) {
	char *name = str_field(input, len, "Name"), *cause = str_field(input, len, "Cause");
	uint64_t r = orbit_fail(name, cause);
	free(name);
	free(cause);
	return r;
}
ORBIT_HANDLER(fail)

static int calls;

static uint64_t count(const char *input, size_t len) {
	(void)input, (void)len;
	char out[16];
	return orbit_result(out, (size_t)snprintf(out, sizeof out, "%d", ++calls));
}
ORBIT_HANDLER(count)

static volatile unsigned sink;

static uint64_t loop(const char *input, size_t len) {
	(void)input, (void)len;
	for (unsigned i = 0;; i++) sink += i;
}
ORBIT_HANDLER(loop)

static uint64_t sleep(const char *input, size_t len) {
	(void)input, (void)len;
	struct timespec hour = {3600, 0};
	nanosleep(&hour, NULL);
	return result("\"woke\"");
}
ORBIT_HANDLER(sleep)

/* bomb allocates until malloc fails, then aborts, as C code that cannot
 * go on without memory does. The chunks are chained from a global, so
 * that the compiler cannot prove them unused and drop the allocations. */
static void *hoard;

static uint64_t bomb(const char *input, size_t len) {
	(void)input, (void)len;
	for (;;) {
		void **p = malloc(64 << 10);
		if (!p) abort();
		memset(p, 1, 64 << 10);
		*p = hoard;
		hoard = p;
	}
}
ORBIT_HANDLER(bomb)

static uint64_t boom(const char *input, size_t len) {
	(void)input, (void)len;
	fputs("boom\n", stderr);
	abort();
}
ORBIT_HANDLER(boom)

static uint64_t open_file(const char *input, size_t len) {
	char *path = str_field(input, len, "Path");
	FILE *f = fopen(path, "r");
	free(path);
	if (!f) return orbit_fail("File.Denied", strerror(errno));
	fclose(f);
	return result("\"opened\"");
}
ORBIT_HANDLER(open_file)

static uint64_t fetch(const char *input, size_t len) {
	char *url = str_field(input, len, "URL");
	char *req = malloc(strlen(url) * 6 + 128), *end = req;
	end += sprintf(end, "{\"method\":\"POST\",\"url\":");
	end = quote(end, url);
	end += sprintf(end, ",\"body\":\"{\\\"q\\\":1}\"}");
	free(url);
	char small[64], *resp = small;
	int32_t n = orbit_http_request(req, (int32_t)(end - req), small, sizeof small);
	free(req);
	if (n < 0) {
		char *why = explanation();
		uint64_t r = orbit_fail(n == ORBIT_EDENIED ? "Fetch.Denied" : "Fetch.Failed", why);
		free(why);
		return r;
	}
	if (n > (int32_t)sizeof small) { /* the usual case: fetch the response with read */
		resp = malloc((size_t)n);
		int32_t m = orbit_read(resp, n);
		if (m != n) { char e[64]; snprintf(e, sizeof e, "read %d of %d", m, n); return orbit_fail("Fetch.Failed", e); }
	}
	uint64_t r = orbit_result(resp, (size_t)n);
	if (resp != small) free(resp);
	return r;
}
ORBIT_HANDLER(fetch)

static uint64_t host(const char *input, size_t len) {
	char *key = str_field(input, len, "Key"), *value = str_field(input, len, "Value");
	char cfg[64] = "", got[256] = "", ctx[1024];
	int32_t n = orbit_config("greeting", cfg, sizeof cfg - 1);
	cfg[n > 0 && n < (int32_t)sizeof cfg ? n : 0] = 0;
	if (orbit_kv_put(key, value, (int32_t)strlen(value)) != 0) return orbit_fail("KV.Failed", explanation());
	n = orbit_kv_get(key, got, sizeof got - 1);
	if (n < 0 || n >= (int32_t)sizeof got) return orbit_fail("KV.Failed", "kv_get");
	got[n] = 0;
	int missing = orbit_kv_get("absent", ctx, sizeof ctx) == ORBIT_ENOTFOUND;
	int32_t c = orbit_context(ctx, sizeof ctx - 1);
	if (c < 0 || c >= (int32_t)sizeof ctx) return orbit_fail("Context.Failed", "context_get");
	ctx[c] = 0;
	orbit_log(ORBIT_INFO, "host functions exercised");
	char *out = malloc(2048), *end = out;
	end += sprintf(end, "{\"config\":");
	end = quote(end, cfg);
	end += sprintf(end, ",\"kv\":");
	end = quote(end, got);
	end += sprintf(end, ",\"missing\":%s,\"context\":%s}", missing ? "true" : "false", ctx);
	uint64_t r = orbit_result(out, (size_t)(end - out));
	free(out), free(key), free(value);
	return r;
}
ORBIT_HANDLER(host)

ORBIT_EXPORT(wrong_shape) uint32_t wrong_shape(uint32_t a) { return a; }

/* spam writes Lines lines of Size bytes through Via ("log", "stdout" or
 * "stderr"); Lines 0 is one write of Size bytes with no newline. */
static uint64_t spam(const char *input, size_t len) {
	char *via = str_field(input, len, "Via");
	long lines = int_field(input, len, "Lines"), size = int_field(input, len, "Size");
	char *line = malloc((size_t)size + 1);
	memset(line, 'x', (size_t)size);
	line[size] = '\n';
	if (lines == 0) fwrite(line, 1, (size_t)size, stdout);
	for (long i = 0; i < lines; i++) {
		if (strcmp(via, "log") == 0) orbit_host_log(ORBIT_INFO, line, (int32_t)size);
		else fwrite(line, 1, (size_t)size + 1, strcmp(via, "stderr") == 0 ? stderr : stdout);
	}
	fflush(stdout);
	free(line), free(via);
	char out[32];
	return orbit_result(out, (size_t)snprintf(out, sizeof out, "%ld", lines ? lines : 1));
}
ORBIT_HANDLER(spam)

/* kv_fill writes Count values of Size bytes under Prefix0, Prefix1, ...
 * and stops at the first refusal, which it names. */
static uint64_t kv_fill(const char *input, size_t len) {
	char *prefix = str_field(input, len, "Prefix");
	long n = int_field(input, len, "Count"), size = int_field(input, len, "Size");
	char *value = malloc((size_t)size), key[64], out[8192], *end = out;
	memset(value, 'v', (size_t)size);
	long i = 0;
	int32_t code = 0;
	for (; i < n; i++) {
		snprintf(key, sizeof key, "%s%ld", prefix, i);
		if ((code = orbit_kv_put(key, value, (int32_t)size)) != 0) break;
	}
	end += sprintf(end, "{\"written\":%ld", i);
	if (code != 0) {
		char *why = explanation();
		end += sprintf(end, ",\"quota\":%s,\"error\":", code == ORBIT_EQUOTA ? "true" : "false");
		end = quote(end, why);
		free(why);
	}
	*end++ = '}';
	free(prefix), free(value);
	return orbit_result(out, (size_t)(end - out));
}
ORBIT_HANDLER(kv_fill)

static uint64_t kv_delete(const char *input, size_t len) {
	char *key = str_field(input, len, "Key");
	int32_t code = orbit_kv_put(key, "", 0);
	free(key);
	return code == 0 ? result("null") : orbit_fail("KV.Failed", explanation());
}
ORBIT_HANDLER(kv_delete)

/* config looks Key up in the config and the key-value store, and says
 * whether the store refused the key as invalid. */
static uint64_t config(const char *input, size_t len) {
	char *key = str_field(input, len, "Key"), value[256] = "";
	int kv_invalid = orbit_kv_get(key, value, sizeof value) == ORBIT_EINVALID;
	int32_t n = orbit_config(key, value, sizeof value - 1);
	int found = n >= 0 && n < (int32_t)sizeof value;
	value[found ? n : 0] = 0;
	free(key);
	char out[1024], *end = out;
	end += sprintf(end, "{\"value\":");
	end = quote(end, value);
	end += sprintf(end, ",\"found\":%s,\"kv_invalid\":%s}", found ? "true" : "false", kv_invalid ? "true" : "false");
	return orbit_result(out, (size_t)(end - out));
}
ORBIT_HANDLER(config)

/* big_reply answers a JSON string of as many bytes as its input says. */
static uint64_t big_reply(const char *input, size_t len) {
	long n = strtol(len ? input : "0", NULL, 10);
	char *s = malloc((size_t)n + 2);
	if (!s) return orbit_fail("Memory.Exhausted", "big_reply");
	s[0] = '"';
	memset(s + 1, 'r', (size_t)n);
	s[n + 1] = '"';
	uint64_t r = orbit_result(s, (size_t)n + 2);
	free(s);
	return r;
}
ORBIT_HANDLER(big_reply)

#ifdef ORBIT_COMMAND
int main(int argc, char **argv) {
	static const struct orbit_route routes[] = {{"echo", echo}, {"fail", fail}};
	return orbit_command(argc, argv, routes, sizeof routes / sizeof routes[0]);
}
#endif
