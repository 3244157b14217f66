<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 503 unavailable: the sidecar is shutting down or its store cannot write; retried after Retry-After before it is thrown. */
class UnavailableException extends OrbitException
{
}
