/*
 * luhn is an example Orbit plugin in C, built with plugins/pdk/orbit.h:
 * routine card.check checks a card number's Luhn checksum and names its
 * brand, without the number leaving the sidecar. The input is the number
 * as a JSON string, for example "4242-4242-4242-4242" (spaces and dashes
 * are ignored); the result is {"valid": true, "brand": "visa", "last4":
 * "4242"}. Anything that is not a card number is the named error
 * Card.Invalid, which a workflow can catch.
 */
#define ORBIT_IMPLEMENTATION
#include "orbit.h"

#include <stdio.h>

enum { MIN_DIGITS = 12, MAX_DIGITS = 19 };

static const char *brand(const char *d, size_t n) {
	if (d[0] == '4') return "visa";
	if (n >= 2 && d[0] == '5' && d[1] >= '1' && d[1] <= '5') return "mastercard";
	if (n >= 2 && d[0] == '3' && (d[1] == '4' || d[1] == '7')) return "amex";
	return "unknown";
}

/* luhn_valid: from the right, every second digit doubled (minus 9 when it
 * passes 9), and the sum a multiple of ten. */
static int luhn_valid(const char *d, size_t n) {
	int sum = 0;
	for (size_t i = 0; i < n; i++) {
		int v = d[n - 1 - i] - '0';
		if (i % 2 == 1 && (v *= 2) > 9) v -= 9;
		sum += v;
	}
	return sum % 10 == 0;
}

static uint64_t check(const char *input, size_t len) {
	char digits[MAX_DIGITS];
	size_t n = 0;
	if (len < 2 || input[0] != '"' || input[len - 1] != '"') {
		return orbit_fail("Card.Invalid", "the input must be the card number as a JSON string");
	}
	for (size_t i = 1; i + 1 < len; i++) {
		char c = input[i];
		if (c == ' ' || c == '-') continue;
		if (c < '0' || c > '9') return orbit_fail("Card.Invalid", "a card number holds only digits, spaces and dashes");
		if (n == MAX_DIGITS) return orbit_fail("Card.Invalid", "a card number has at most 19 digits");
		digits[n++] = c;
	}
	if (n < MIN_DIGITS) return orbit_fail("Card.Invalid", "a card number has at least 12 digits");
	char out[80];
	int m = snprintf(out, sizeof out, "{\"valid\":%s,\"brand\":\"%s\",\"last4\":\"%.4s\"}",
	                 luhn_valid(digits, n) ? "true" : "false", brand(digits, n), digits + n - 4);
	return orbit_result(out, (size_t)m);
}
ORBIT_HANDLER(check)
