<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/**
 * An answer of the sidecar that is not 2xx. Each error code of the API
 * (docs/api.md) has a subclass; fromAnswer() picks it.
 */
class OrbitException extends \RuntimeException
{
    /** The error codes of the API and the class each is thrown as. */
    public const CLASSES = [
        'bad_request' => BadRequestException::class,
        'unauthorized' => UnauthorizedException::class,
        'forbidden' => ForbiddenException::class,
        'not_found' => NotFoundException::class,
        'unknown_workflow' => UnknownWorkflowException::class,
        'method_not_allowed' => MethodNotAllowedException::class,
        'conflict' => ConflictException::class,
        'ended' => EndedException::class,
        'payload_too_large' => PayloadTooLargeException::class,
        'unsupported_media_type' => UnsupportedMediaTypeException::class,
        'unknown_event' => UnknownEventException::class,
        'too_many_events' => TooManyEventsException::class,
        'too_many_requests' => TooManyRequestsException::class,
        'unavailable' => UnavailableException::class,
        'not_implemented' => NotImplementedException::class,
        'damaged' => DamagedException::class,
        'internal' => InternalException::class,
    ];

    /**
     * @param array<string, mixed>|null $body the whole answer, for answers that carry more than the error
     */
    final public function __construct(
        string $message,
        private readonly int $status,
        private readonly string $errorCode,
        private readonly ?float $retryAfter = null,
        private readonly ?array $body = null,
    ) {
        parent::__construct($errorCode === '' ? "HTTP $status: $message" : "$errorCode: $message", $status);
    }

    /** Makes the exception of an answer: its code's class, or this one for a code the client does not know. */
    public static function fromAnswer(int $status, string $raw, ?float $retryAfter): self
    {
        try {
            $body = json_decode($raw, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        } catch (\JsonException) {
            $body = null;
        }
        $code = is_array($body) && isset($body['error']['code']) && is_string($body['error']['code']) ? $body['error']['code'] : '';
        if ($code === '') {
            return new self(trim($raw), $status, '', $retryAfter);
        }
        $class = self::CLASSES[$code] ?? self::class;
        return new $class((string) ($body['error']['message'] ?? ''), $status, $code, $retryAfter, $body);
    }

    /** The HTTP status. */
    public function getStatus(): int
    {
        return $this->status;
    }

    /** The API's error code (bad_request, conflict, ...); '' when the answer was not the API's error body. */
    public function getErrorCode(): string
    {
        return $this->errorCode;
    }

    /** The seconds the answer's Retry-After asked to wait (429, 503), or null. */
    public function getRetryAfter(): ?float
    {
        return $this->retryAfter;
    }

    /**
     * The decoded answer, when it was JSON.
     *
     * @return array<string, mixed>|null
     */
    public function getBody(): ?array
    {
        return $this->body;
    }
}
