<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 429 too_many_requests: too many requests in flight; retried after Retry-After before it is thrown. */
class TooManyRequestsException extends OrbitException
{
}
