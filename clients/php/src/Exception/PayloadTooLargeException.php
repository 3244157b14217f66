<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 413 payload_too_large: a body over the sidecar's --max-payload. */
class PayloadTooLargeException extends OrbitException
{
}
