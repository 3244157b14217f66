<?php

declare(strict_types=1);

namespace Orbit\Client\Tests;

use Orbit\Client\Client;
use Orbit\Client\Exception\BadRequestException;
use Orbit\Client\Exception\ConflictException;
use Orbit\Client\Exception\EndedException;
use Orbit\Client\Exception\NotFoundException;
use Orbit\Client\Exception\OrbitException;
use Orbit\Client\Exception\PayloadTooLargeException;
use Orbit\Client\Exception\TooManyRequestsException;
use Orbit\Client\Exception\TransportException;
use Orbit\Client\Exception\UnauthorizedException;
use Orbit\Client\Exception\UnknownEventException;
use Orbit\Client\Exception\UnknownWorkflowException;
use PHPUnit\Framework\TestCase;

/**
 * Runs against a real `orbit serve` that clients/php/php_test.go starts:
 * ORBIT_URL serves tests/scripts with ORBIT_TOKEN and a 64KiB payload limit;
 * ORBIT_TIGHT_URL serves the same with --max-in-flight 1.
 */
final class ClientTest extends TestCase
{
    private static function env(string $name): string
    {
        $v = getenv($name);
        if ($v === false || $v === '') {
            self::fail("$name is not set: run these tests through go test ./clients/php/");
        }
        return $v;
    }

    private static function client(array $options = []): Client
    {
        return new Client(self::env('ORBIT_URL'), $options + ['token' => self::env('ORBIT_TOKEN')]);
    }

    /** A fresh id, so that reruns against the same sidecar never collide. */
    private static function id(string $prefix): string
    {
        return $prefix . '-' . bin2hex(random_bytes(4));
    }

    /** Waits until the instance awaits an event (the sidecar holds each look until it changes or 200ms pass). */
    private static function awaiting(Client $c, string $id): array
    {
        $deadline = microtime(true) + 10;
        do {
            $in = $c->wait($id, 0.2);
            if (($in['waiting']['kind'] ?? '') === 'event') {
                return $in;
            }
        } while (microtime(true) < $deadline);
        self::fail("instance $id never awaited an event: " . json_encode($in));
    }

    public function testWaitedStartAnswersTheEndedInstance(): void
    {
        $input = ['order' => ['entity_id' => 42, 'items' => [['sku' => 'tea', 'qty' => 2]]]];
        $in = self::client()->start('echo', $input, wait: 10);
        self::assertSame('SUCCEEDED', $in['status']);
        self::assertTrue(Client::isEnded($in));
        self::assertEquals($input, $in['output']); // the same data; a Lua task writes keys in its own order
        self::assertSame('echo', $in['workflow']);
        foreach (['started_at', 'updated_at', 'ended_at'] as $field) {
            // One layout, which PHP's strict parsers read: milliseconds and Z.
            self::assertMatchesRegularExpression('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/', $in[$field]);
            self::assertNotFalse(\DateTimeImmutable::createFromFormat(DATE_RFC3339_EXTENDED, $in[$field]), $field);
        }
    }

    public function testLargeIntegersOfTheInputStayExact(): void
    {
        // PHP's integers have 64 bits: beyond 2^53 a float would round them.
        foreach ([9007199254740993, PHP_INT_MAX] as $n) {
            $in = self::client()->start('checkout', ['entity_id' => $n]);
            self::assertSame($n, self::client()->get($in['id'])['input']['entity_id']);
        }
    }

    public function testIdempotentStart(): void
    {
        $c = self::client();
        $key = 'magento/quote/' . self::id('q'); // any printable key; the sidecar maps it to an id
        $first = $c->start('checkout', ['quote' => 1], $key);
        self::assertSame($key, $first['idempotency_key']);
        self::assertSame('checkout', $first['workflow']);
        $again = $c->start('checkout', ['quote' => 1], $key);
        self::assertSame($first['id'], $again['id']);
        self::assertSame(['quote' => 1], $again['input']);
        self::assertSame([$first['id']], array_column(iterator_to_array($c->list(['idempotency_key' => $key]), false), 'id'));
        try {
            $c->start('checkout', ['quote' => 2], $key);
            self::fail('a start with the same id and another input was accepted');
        } catch (ConflictException $e) {
            self::assertSame(409, $e->getStatus());
            self::assertSame('conflict', $e->getErrorCode());
            self::assertStringStartsWith('conflict: ', $e->getMessage());
        }
    }

    public function testOrderThenPaymentWebhook(): void
    {
        $c = self::client();
        $id = self::id('order');
        $c->start('checkout', ['order' => ['increment_id' => '000000042', 'grand_total' => 99.5]], $id);
        $waiting = self::awaiting($c, $id);
        self::assertSame('WAITING', $waiting['status']);
        self::assertSame('payment.captured', $waiting['waiting']['event']);

        $d = $c->send($id, 'payment.captured', ['transaction_id' => 'pi_1', 'amount' => 99.5]);
        self::assertSame(['id' => $id, 'event' => 'payment.captured', 'delivery' => 'consumed'], $d);
        $end = $c->wait($id, 10);
        self::assertSame('SUCCEEDED', $end['status']);
        self::assertEquals(['transaction_id' => 'pi_1', 'amount' => 99.5], $end['output']['payment']);

        $types = array_column($c->history($id), 'type');
        self::assertSame('ExecutionStarted', $types[0]);
        self::assertContains('EventReceived', $types);
        self::assertSame('ExecutionSucceeded', end($types));
        $page = $c->history($id, after: 1, limit: 2);
        self::assertCount(2, $page);
        self::assertSame(2, $page[0]['seq']);
        $all = $c->history($id);
        $last = end($all);
        self::assertSame(['seq' => $last['seq'], 'hash' => $last['hash']], $c->receipt($id));
        self::assertMatchesRegularExpression('/^[0-9a-f]{64}$/', $last['hash']);

        $this->expectException(EndedException::class);
        $c->send($id, 'payment.captured', []);
    }

    public function testSendAndWaitAndEarlyEvents(): void
    {
        $c = self::client();
        $id = self::id('order');
        $c->start('checkout', ['order' => 1], $id);
        self::awaiting($c, $id);
        $r = $c->sendAndWait($id, 'payment.captured', ['ok' => true], 10);
        self::assertSame('consumed', $r['delivery']);
        self::assertSame('SUCCEEDED', $r['instance']['status']);

        $late = self::id('late');
        $c->start('late', [], $late);
        self::assertSame('kept', $c->send($late, 'payment.captured', ['early' => true])['delivery']);
        $end = $c->wait($late, 10);
        self::assertSame('SUCCEEDED', $end['status']);
        self::assertSame(['early' => true], $end['output']['payment']);

        $other = self::id('order');
        $c->start('checkout', [], $other);
        try {
            $c->send($other, 'payment.capturd', []);
            self::fail('a misspelt event was delivered');
        } catch (UnknownEventException $e) {
            self::assertSame(422, $e->getStatus());
            self::assertStringContainsString('payment.captured', $e->getMessage());
        }
    }

    public function testPauseResumeCancel(): void
    {
        $c = self::client();
        $id = self::id('order');
        $c->start('checkout', [], $id);
        self::awaiting($c, $id);
        self::assertSame(['id' => $id, 'status' => 'PAUSED'], $c->pause($id));
        self::assertSame('paused', $c->get($id)['waiting']['kind']);
        self::assertSame('WAITING', $c->resume($id)['status']);
        try {
            $c->resume($id);
            self::fail('a resume of an instance that is not paused was accepted');
        } catch (ConflictException $e) {
            self::assertSame(409, $e->getStatus());
        }
        self::assertSame('CANCELLED', $c->cancel($id)['status']);
        $this->expectException(EndedException::class);
        $c->cancel($id);
    }

    public function testRedriveRunsTheFailedStateAgain(): void
    {
        $c = self::client();
        $failed = $c->start('flaky', ['run' => self::id('flaky')], wait: 10);
        self::assertSame('FAILED', $failed['status']);
        $c->redrive($failed['id']);
        $end = $c->wait($failed['id'], 10);
        self::assertSame('SUCCEEDED', $end['status']);
        self::assertSame(['ok' => true], $end['output']['answer']);
    }

    public function testListIsAGeneratorOverEveryPage(): void
    {
        $c = self::client();
        $tag = self::id('list');
        $ids = [];
        for ($i = 0; $i < 5; $i++) {
            $ids[] = $c->start('echo', ['n' => $i], "$tag-$i", wait: 10)['id'];
        }
        $list = $c->list(['id_contains' => $tag, 'limit' => 2]);
        self::assertInstanceOf(\Generator::class, $list);
        self::assertSame(array_reverse($ids), array_column(iterator_to_array($list, false), 'id'));
        $page = $c->listPage(['id_contains' => $tag, 'limit' => 3, 'status' => 'succeeded']);
        self::assertCount(3, $page['instances']);
        self::assertNotSame('', $page['next_cursor']);
        $this->expectException(BadRequestException::class);
        iterator_to_array($c->list(['status' => 'nope']));
    }

    public function testErrorsAreTypedByCode(): void
    {
        $c = self::client();
        foreach ([
            [NotFoundException::class, 404, static fn () => $c->get('nobody')],
            [UnknownWorkflowException::class, 404, static fn () => $c->start('nothing')],
            [PayloadTooLargeException::class, 413, static fn () => $c->start('echo', str_repeat('x', 100 << 10))],
            [UnauthorizedException::class, 401, static fn () => self::client(['token' => 'wrong'])->get('nobody')],
        ] as [$class, $status, $call]) {
            try {
                $call();
                self::fail("$class was not thrown");
            } catch (OrbitException $e) {
                self::assertInstanceOf($class, $e);
                self::assertSame($status, $e->getStatus());
                self::assertNotSame('', $e->getErrorCode());
            }
        }
        foreach (OrbitException::CLASSES as $code => $class) {
            self::assertTrue(is_subclass_of($class, OrbitException::class), "$code maps to $class");
        }
        $this->expectException(TransportException::class);
        (new Client('127.0.0.1:1', ['connect_timeout' => 2]))->get('x');
    }

    public function testTooManyRequestsIsRetriedAfterRetryAfterAndLogged(): void
    {
        $tight = self::env('ORBIT_TIGHT_URL');
        $token = self::env('ORBIT_TOKEN');
        $c = new Client($tight, ['token' => $token]);
        $id = self::id('held');
        $c->start('checkout', [], $id);
        self::awaiting($c, $id);

        // A long poll of 3 seconds holds the sidecar's only request slot.
        $multi = curl_multi_init();
        $hold = static function () use ($multi, $tight, $id, $token) {
            $poll = curl_init("$tight/v1/instances/$id?wait=3s");
            curl_setopt_array($poll, [CURLOPT_RETURNTRANSFER => true, CURLOPT_HTTPHEADER => ["Authorization: Bearer $token"]]);
            curl_multi_add_handle($multi, $poll);
            return $poll;
        };
        $poll = $hold();
        $logger = new class () {
            /** @var list<array{string, string, array}> */
            public array $lines = [];

            public function __call(string $level, array $args): void
            {
                $this->lines[] = [$level, $args[0], $args[1] ?? []];
            }
        };
        try {
            $refused = null;
            $deadline = microtime(true) + 10;
            while ($refused === null && microtime(true) < $deadline) {
                curl_multi_exec($multi, $running);
                if ($running === 0) {
                    // The poll ended: its wait ran out, or it reached the sidecar while one of the
                    // requests below held the slot and was refused itself. Hold the slot again.
                    curl_multi_remove_handle($multi, $poll);
                    $poll = $hold();
                    continue;
                }
                try {
                    (new Client($tight, ['token' => $token, 'retries' => 0]))->get($id);
                } catch (TooManyRequestsException $e) {
                    $refused = $e;
                }
            }
            self::assertNotNull($refused, 'the held slot never refused a request');
            self::assertSame(429, $refused->getStatus());
            self::assertSame(1.0, $refused->getRetryAfter());

            $retrying = new Client($tight, ['token' => $token, 'retries' => 5, 'logger' => $logger]);
            self::assertSame($id, $retrying->get($id)['id']);
            $warnings = array_filter($logger->lines, static fn ($l) => $l[0] === 'warning');
            self::assertNotEmpty($warnings, 'no retry was logged');
            self::assertSame(429, array_values($warnings)[0][2]['status']);
            self::assertSame('too_many_requests', array_values($warnings)[0][2]['code']);
        } finally {
            curl_multi_remove_handle($multi, $poll);
            curl_multi_close($multi);
        }
    }
}
