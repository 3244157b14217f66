<?php

declare(strict_types=1);

namespace Orbit\Client;

use Orbit\Client\Exception\OrbitException;
use Orbit\Client\Exception\TransportException;

/**
 * The client of one Orbit sidecar's HTTP API (docs/api.md).
 *
 * Instances, events and pages are the API's JSON decoded as arrays; large
 * integers stay exact as strings. An answer that is not 2xx is thrown as the
 * OrbitException subclass of its error code; 429 and 503, which refuse a
 * request unchanged, are sent again after the answer's Retry-After (or a
 * growing pause) up to `retries` times first.
 */
final class Client
{
    /** Statuses that have ended: nothing more happens to such an instance but a redrive. */
    public const ENDED = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

    /** The longest wait one request asks for; a longer wait is several requests. */
    private const SERVER_WAIT = 60.0;

    /** The longest pause the client chooses itself between retries, in seconds. */
    private const MAX_BACKOFF = 10.0;

    private string $base;
    private ?string $token;
    private float $timeout;
    private float $connectTimeout;
    private int $retries;
    private float $backoff;
    private ?object $logger;
    /** @var \CurlHandle|null one handle, so that connections are kept alive */
    private ?\CurlHandle $curl = null;

    /**
     * @param string $baseUrl the sidecar: 'http://127.0.0.1:7077' or '127.0.0.1:7077'
     * @param array{token?: ?string, timeout?: float, connect_timeout?: float, retries?: int, backoff?: float, logger?: ?object} $options
     *        token: the sidecar's --token; timeout: seconds per request (default 30), a waiting request gets its wait
     *        on top; connect_timeout: seconds (default 5); retries: of 429 and 503 (default 3); backoff: the first
     *        pause in seconds when the answer names no Retry-After (default 0.2), doubled each time; logger: any
     *        PSR-3 logger (an object with debug() and warning()), no dependency needed
     */
    public function __construct(string $baseUrl = 'http://127.0.0.1:7077', array $options = [])
    {
        $base = rtrim($baseUrl, '/');
        $this->base = str_contains($base, '://') ? $base : 'http://' . $base;
        $this->token = $options['token'] ?? null;
        $this->timeout = (float) ($options['timeout'] ?? 30.0);
        $this->connectTimeout = (float) ($options['connect_timeout'] ?? 5.0);
        $this->retries = max(0, (int) ($options['retries'] ?? 3));
        $this->backoff = (float) ($options['backoff'] ?? 0.2);
        $this->logger = $options['logger'] ?? null;
    }

    /**
     * Starts an instance of a workflow.
     *
     * @param mixed $input the input: anything json_encode takes (an empty array is sent as {}), or null for none
     * @param string|null $id the idempotency key, any printable text (a quote's 'magento/quote/42'): the same key
     *        and input answer the instance already started, another input throws ConflictException (sent as the
     *        Idempotency-Key header; the answer's idempotency_key holds it, its id is the instance id)
     * @param string|null $version run the newest kept bundle whose workflow carries this version
     * @param float|null $wait seconds: answer when the instance ends or the wait passes, with the whole
     *        instance either way (its status says which); null answers at once with id, workflow, version, status
     * @return array<string, mixed> the instance
     */
    public function start(string $workflow, mixed $input = null, ?string $id = null, ?string $version = null, ?float $wait = null): array
    {
        $query = array_filter(['version' => $version, 'wait' => self::duration($wait)], static fn ($v) => $v !== null);
        $headers = $id !== null ? ['Idempotency-Key: ' . $id] : [];
        return $this->call('POST', '/v1/workflows/' . rawurlencode($workflow) . '/instances', $query, self::encode($input), $headers, $wait)['body'];
    }

    /**
     * Reads an instance.
     *
     * @return array<string, mixed>
     */
    public function get(string $id): array
    {
        return $this->call('GET', self::instancePath($id))['body'];
    }

    /**
     * Waits until the instance ends or $timeout seconds pass, and returns it as it is then: its status
     * says whether it ended (see isEnded()). The sidecar holds each request until then (long polling).
     *
     * @return array<string, mixed>
     */
    public function wait(string $id, float $timeout): array
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            $step = min(self::SERVER_WAIT, $deadline - microtime(true));
            if ($step <= 0) {
                return $this->get($id);
            }
            $asked = microtime(true);
            $instance = $this->call('GET', self::instancePath($id), ['wait' => self::duration($step)], null, [], $step)['body'];
            if (self::isEnded($instance) || microtime(true) >= $deadline) {
                return $instance;
            }
            // An early answer for an instance that has not ended comes from a
            // sidecar shutting down: let it go first.
            if (microtime(true) - $asked < $step / 2) {
                usleep(1_000_000);
            }
        }
    }

    /**
     * Says whether an instance has ended.
     *
     * @param array<string, mixed> $instance
     */
    public static function isEnded(array $instance): bool
    {
        return in_array($instance['status'] ?? '', self::ENDED, true);
    }

    /**
     * Reads an instance's history, oldest first; $after (a seq) and $limit page through a long one.
     *
     * @return list<array<string, mixed>>
     */
    public function history(string $id, int $after = 0, int $limit = 0): array
    {
        $query = array_filter(['after' => $after, 'limit' => $limit]);
        return $this->call('GET', self::instancePath($id) . '/history', $query)['body']['events'];
    }

    /**
     * Reads the head of an instance's history chain, ['seq' => int, 'hash' => string]: a receipt of the history
     * up to there, to keep and check later (docs/guarantees.md); null while none of its events is hashed.
     *
     * @return array{seq: int, hash: string}|null
     */
    public function receipt(string $id): ?array
    {
        return $this->call('GET', self::instancePath($id) . '/history', ['limit' => 1])['body']['chain_head'] ?? null;
    }

    /**
     * Delivers an event. The answer's `delivery` is 'consumed' when the instance took it at once, 'kept' when
     * it is stored until the instance awaits it. An event the workflow can never await throws UnknownEventException.
     *
     * @return array{id: string, event: string, delivery: string}
     */
    public function send(string $id, string $event, mixed $payload = null): array
    {
        return $this->call('POST', self::instancePath($id) . '/events/' . rawurlencode($event), [], self::encode($payload))['body'];
    }

    /**
     * Delivers an event, then waits up to $wait seconds (the sidecar caps it at 5 minutes) for the instance to end.
     *
     * @return array{delivery: string, instance: array<string, mixed>} what became of the event, and the instance as it is then
     */
    public function sendAndWait(string $id, string $event, mixed $payload, float $wait): array
    {
        $answer = $this->call('POST', self::instancePath($id) . '/events/' . rawurlencode($event),
            ['wait' => self::duration($wait)], self::encode($payload), [], $wait);
        return ['delivery' => $answer['headers']['orbit-delivery'] ?? '', 'instance' => $answer['body']];
    }

    /**
     * Cancels an instance and its children; EndedException when it had ended.
     *
     * @return array{id: string, status: string}
     */
    public function cancel(string $id): array
    {
        return $this->call('POST', self::instancePath($id) . '/cancel')['body'];
    }

    /**
     * Pauses an instance after its running step checkpoints.
     *
     * @return array{id: string, status: string}
     */
    public function pause(string $id): array
    {
        return $this->call('POST', self::instancePath($id) . '/pause')['body'];
    }

    /**
     * Resumes a paused instance; ConflictException when it is not paused.
     *
     * @return array{id: string, status: string}
     */
    public function resume(string $id): array
    {
        return $this->call('POST', self::instancePath($id) . '/resume')['body'];
    }

    /**
     * Runs a FAILED or TIMED_OUT instance again from the state that failed; ConflictException otherwise.
     *
     * @return array{id: string, status: string}
     */
    public function redrive(string $id): array
    {
        return $this->call('POST', self::instancePath($id) . '/redrive')['body'];
    }

    /**
     * Reads one page of instances, newest first.
     *
     * @param array{workflow?: string, version?: string, status?: string, id_contains?: string, idempotency_key?: string, limit?: int, cursor?: string} $filters
     * @return array{instances: list<array<string, mixed>>, next_cursor: string}
     */
    public function listPage(array $filters = []): array
    {
        return $this->call('GET', '/v1/instances', array_filter($filters, static fn ($v) => $v !== null && $v !== ''))['body'];
    }

    /**
     * Yields every instance the filters select, newest first, reading the next page as the loop reaches it.
     *
     * @param array{workflow?: string, version?: string, status?: string, id_contains?: string, idempotency_key?: string, limit?: int} $filters
     *        limit is the page size (the sidecar's default is 100, at most 1000)
     * @return \Generator<int, array<string, mixed>>
     */
    public function list(array $filters = []): \Generator
    {
        $cursor = '';
        do {
            $page = $this->listPage($filters + ['cursor' => $cursor]);
            yield from $page['instances'];
            $cursor = $page['next_cursor'];
        } while ($cursor !== '');
    }

    private static function instancePath(string $id): string
    {
        return '/v1/instances/' . rawurlencode($id);
    }

    /** Writes seconds as the API's duration ("1500ms"). */
    private static function duration(?float $seconds): ?string
    {
        return $seconds === null ? null : max(0, (int) round($seconds * 1000)) . 'ms';
    }

    /** Encodes a body; null is none (the API reads null), an empty array is an empty object. */
    private static function encode(mixed $value): ?string
    {
        if ($value === null) {
            return null;
        }
        if ($value === []) {
            return '{}';
        }
        return json_encode($value, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
    }

    /**
     * Sends a request, again after 429 and 503, and returns the decoded 2xx answer with its headers.
     *
     * @param array<string, scalar> $query
     * @param list<string> $headers
     * @return array{status: int, headers: array<string, string>, body: mixed}
     */
    private function call(string $method, string $path, array $query = [], ?string $body = null, array $headers = [], ?float $wait = null): array
    {
        $pause = $this->backoff;
        for ($attempt = 0; ; $attempt++) {
            try {
                return $this->once($method, $path, $query, $body, $headers, $wait ?? 0.0);
            } catch (OrbitException $e) {
                if (!in_array($e->getStatus(), [429, 503], true) || $attempt >= $this->retries) {
                    throw $e;
                }
                $sleep = $e->getRetryAfter();
                if ($sleep === null) {
                    // Jitter spreads the retries of many clients refused together.
                    $sleep = $pause / 2 + mt_rand() / mt_getrandmax() * $pause / 2;
                    $pause = min($pause * 2, self::MAX_BACKOFF);
                }
                $this->log('warning', 'orbit: {method} {path} refused with {status} {code}; retrying in {seconds}s', [
                    'method' => $method, 'path' => $path, 'status' => $e->getStatus(), 'code' => $e->getErrorCode(),
                    'seconds' => round($sleep, 3), 'attempt' => $attempt + 1,
                ]);
                usleep((int) ($sleep * 1_000_000));
            }
        }
    }

    /**
     * Sends a request once.
     *
     * @param array<string, scalar> $query
     * @param list<string> $headers
     * @return array{status: int, headers: array<string, string>, body: mixed}
     */
    private function once(string $method, string $path, array $query, ?string $body, array $headers, float $wait): array
    {
        $url = $this->base . $path . ($query === [] ? '' : '?' . http_build_query($query, '', '&', PHP_QUERY_RFC3986));
        $headers[] = 'Accept: application/json';
        if ($body !== null) {
            $headers[] = 'Content-Type: application/json';
        }
        if ($this->token !== null && $this->token !== '') {
            $headers[] = 'Authorization: Bearer ' . $this->token;
        }
        $this->curl ??= curl_init();
        $curl = $this->curl;
        curl_reset($curl);
        $answerHeaders = [];
        curl_setopt_array($curl, [
            CURLOPT_URL => $url,
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_CONNECTTIMEOUT_MS => (int) ($this->connectTimeout * 1000),
            CURLOPT_TIMEOUT_MS => (int) (($this->timeout + $wait) * 1000),
            CURLOPT_HEADERFUNCTION => static function ($_, string $line) use (&$answerHeaders): int {
                $parts = explode(':', $line, 2);
                if (count($parts) === 2) {
                    $answerHeaders[strtolower(trim($parts[0]))] = trim($parts[1]);
                }
                return strlen($line);
            },
        ]);
        if ($body !== null) {
            curl_setopt($curl, CURLOPT_POSTFIELDS, $body);
        } elseif ($method === 'POST') {
            curl_setopt($curl, CURLOPT_POSTFIELDS, '');
        }
        $this->log('debug', 'orbit: {method} {url}', ['method' => $method, 'url' => $url]);
        $raw = curl_exec($curl);
        if ($raw === false) {
            throw new TransportException(sprintf('cannot reach the sidecar at %s: %s', $this->base, curl_error($curl)), curl_errno($curl));
        }
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        if ($status < 200 || $status > 299) {
            throw OrbitException::fromAnswer($status, (string) $raw, self::retryAfter($answerHeaders['retry-after'] ?? null));
        }
        try {
            $decoded = json_decode((string) $raw, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        } catch (\JsonException $e) {
            throw new TransportException(sprintf('the answer of %s %s is not JSON: %s', $method, $path, $e->getMessage()), 0, $e);
        }
        return ['status' => $status, 'headers' => $answerHeaders, 'body' => $decoded];
    }

    /** Reads a Retry-After header: seconds or an HTTP date. */
    private static function retryAfter(?string $value): ?float
    {
        if ($value === null || $value === '') {
            return null;
        }
        if (ctype_digit($value)) {
            return (float) $value;
        }
        $at = strtotime($value);
        return $at === false ? null : max(0.0, (float) ($at - time()));
    }

    /** @param array<string, mixed> $context */
    private function log(string $level, string $message, array $context): void
    {
        if ($this->logger !== null && is_callable([$this->logger, $level])) {
            $this->logger->{$level}($message, $context);
        }
    }
}
